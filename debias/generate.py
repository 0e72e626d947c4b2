"""Sample latents from the generator's prior and render them (step 2), or render the complements (step 4b).

    python -m debias.generate --generate orig --generator results/began/<run> [--n-samples N]
        z ~ prior, G(z) -> EXP/fake/orig.npz (z, uint8 images), fake/generator.json, fake/orig_samples.png
    python -m debias.generate --generate flip
        G(z') for the latents of fake/latents_flip.npz -> EXP/fake/flip.npz, fake/pairs.png (G(z) | G(z'))

The generator is a .keras file or a run directory (see debias/generator.py); flip reuses the one
recorded by orig. Use the same --profile/--attribute/--protected-attribute/--out/--name as the other steps.
"""

from common import cli
from debias import experiment, steps


def parser():
    p = experiment.parser("debias.generate", __doc__.split("\n")[0], generator=True)
    p.add_argument("--generate", choices=("orig", "flip"), required=True, help="which images to render")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.experiment_dir(args, config)
    source, prior = steps.generator_source(args, config, exp_dir)
    exp_dir = experiment.open_experiment(args, config)
    step = steps.orig if args.generate == "orig" else steps.flip
    return step(exp_dir, config, source, prior, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
