"""Label the generated images with the baseline target and protected classifiers (step 3).

    python -m debias.hallucinate [--label-threshold f1|calibrated|median] [--label-fallback median|none] [--check-flip]

Scores G(z) of fake/orig.npz with EXP/baseline and EXP/protected (resized to the classifiers' size)
and binarises them at the F1-optimal validation threshold of each classifier (the original's
get_scores.py); writes fake/labels.npz: target_scores, protected_scores, target, protected, and
fake/labels.json: per attribute the rule and threshold used, the positive rate, and whether the
median fallback replaced a threshold that left the SVMs' latents in one class.
With --check-flip (after generate --generate flip): re-score G(z') and write fake/flip_check.json.
"""

from common import cli
from debias import experiment, steps


def parser():
    p = experiment.parser("debias.hallucinate", __doc__.split("\n")[0], generator=True)
    p.add_argument("--check-flip", action="store_true", help="re-score G(z') instead (fake/flip_check.json)")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    step = steps.check_flip if args.check_flip else steps.hallucinate
    return step(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
