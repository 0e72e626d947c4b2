"""Fairness of the baseline and the de-biased classifier (step 6, the original's compute_fairness).

    python -m debias.evaluate results/debias/<experiment> [--data-dir D] [--bootstrap 500]

For each classifier of the experiment (baseline, gan-debiased; or the one classifier run given):
scores on CelebA val and test, the threshold calibrated on val (#predicted = #true positives) and
used on test, then AP, DEO, BA (x100) and KL with a seeded bootstrap (median, +-2 std). KL by
--kl: common-bins (default; both groups on the bins of [0, 1]) or original (the paper's: each group
over its own range, integer smoothing; comparable with the paper's KL column); metrics.json also
holds the other definition as KL_other.
Writes metrics.json, metrics.md (baseline vs de-biased beside the paper's category means) and
headline.json.
"""

from common import cli
from common.cli import positive_int
from debias import experiment, metrics, report


def parser():
    p = cli.ArgumentParser(prog="debias.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="an experiment directory (or one classifier run inside it)")
    p.add_argument("--data-dir", default=None, help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    p.add_argument("--profile", choices=tuple(experiment.PROFILES), default=None,
                   help="accepted for run_all.sh; the experiment's own config is used")
    p.add_argument("--bootstrap", type=positive_int, default=None, help="resamples (default: the experiment's)")
    p.add_argument("--kl", choices=metrics.KL_DEFINITIONS, default=None,
                   help="KL definition: common-bins (both groups' histograms on [0, 1]; profile default) or "
                        "original (the paper's utils.py: each group over its own range, integer smoothing)")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    return report.evaluate(args.run_dir, args.data_dir, args.bootstrap, args.kl)


if __name__ == "__main__":
    main()
