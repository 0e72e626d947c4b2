"""GAN latent-space de-biasing end to end, in the original's order (one command).

    python -m debias.pipeline --profile quick --data-dir ../shared/data --generator results/began/<run> \
        --attribute Arched_Eyebrows --protected-attribute Male

 1. train the baseline classifiers: target (baseline/) and protected (protected/)
 2. sample z from the generator's prior, render G(z)                 (generate --generate orig)
 3. hallucinate target and protected labels of G(z)                 (hallucinate)
 4. fit the latent SVMs, compute z' and render G(z')                 (hyperplane, generate --generate flip)
    and re-score G(z') to see whether the labels did flip (fake/flip_check.json; not in the paper)
 5. train the de-biased classifier on real + G(z) + G(z')            (train --model-train gan-debiased)
 6. evaluate baseline vs de-biased                                   (evaluate)
Every step skips work already on disk, so running the command again resumes; --overwrite redoes
every step. Without --generator, the BEGAN run of the same profile under <out>/../began is used.
"""

from common import cli
from debias import experiment, steps


def parser():
    return experiment.parser("debias.pipeline", __doc__.split("\n")[0], generator=True)


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    return steps.run(args, experiment.resolve(args))


if __name__ == "__main__":
    main()
