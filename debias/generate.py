"""Sample latents from the generator's prior and render them (step 2), or render the complements (step 4b).

    python -m debias.generate --generate orig --generator results/began/<run> [--n-samples N]
        z ~ prior, G(z) -> EXP/fake/orig.npz (z, uint8 images), fake/generator.json, fake/orig_samples.png
    python -m debias.generate --generate flip
        G(z') for the latents of fake/latents_flip.npz -> EXP/fake/flip.npz, fake/pairs.png (G(z) | G(z'))

The generator is a .keras file or a run directory (see debias/generator.py); flip reuses the one
recorded by orig. Use the same --profile/--attribute/--protected-attribute/--out/--name as the other steps.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from common.errors import UserError  # noqa: E402
from debias import experiment  # noqa: E402
from debias import generator as gen  # noqa: E402

RECORD = "generator.json"


def parser():
    p = experiment.parser("debias.generate", __doc__.split("\n")[0], generator=True)
    p.add_argument("--generate", choices=("orig", "flip"), required=True, help="which images to render")
    return p


def generator_source(args, config, exp_dir):
    """--generator, else the one recorded by an earlier `orig`, else this profile's BEGAN run."""
    if args.generator:
        return gen.check_source(args.generator), config.get("latent_prior")
    record = exp_dir / "fake" / RECORD
    if record.exists():
        info = cli.read_json(record)
        return gen.check_source(info["path"]), info["prior"]
    return experiment.find_generator(args.out, config["profile"]), config.get("latent_prior")


def orig(exp_dir, config, source, prior, overwrite=False):
    from common import plots
    path = exp_dir / "fake" / "orig.npz"
    if experiment.done(path, overwrite, "generate --generate orig"):
        return path
    g = gen.load(source, prior)
    z = g.sample(config["n_samples"], config["seed"])
    print(f"== generate orig: {len(z)} latents from {g.describe()['source']} ({g.prior} prior, "
          f"dim {g.latent_dim}) -> {g.image_shape[0]}x{g.image_shape[1]} images")
    images = g.render(z)
    experiment.save_npz(path, z=z, images=images)
    cli.write_json_atomic(exp_dir / "fake" / RECORD, dict(g.describe(), path=str(source), n=len(z)))
    n = min(64, len(images)) // 8 * 8
    if n:
        plots.image_grid(images[:n].reshape(n // 8, 8, *images.shape[1:]),
                         exp_dir / "fake" / "orig_samples.png", title="G(z)")
    return path


def flip(exp_dir, config, source, prior, overwrite=False):
    from common import plots
    path = exp_dir / "fake" / "flip.npz"
    if experiment.done(path, overwrite, "generate --generate flip"):
        return path
    pairs = experiment.load_npz(exp_dir / "fake" / "latents_flip.npz", "hyperplane")
    originals = experiment.load_npz(exp_dir / "fake" / "orig.npz", "generate --generate orig")
    g = gen.load(source, prior)
    if g.latent_dim != pairs["z_flip"].shape[1]:
        raise UserError(f"the generator's latent has {g.latent_dim} dimensions, the complements "
                        f"{pairs['z_flip'].shape[1]}: use the generator of `generate --generate orig`")
    print(f"== generate flip: {len(pairs['z_flip'])} complementary images G(z')")
    images = g.render(pairs["z_flip"])
    experiment.save_npz(path, images=images)
    k = min(8, len(images))
    grid = np.stack([originals["images"][pairs["index"][:k]], images[:k]], axis=1)   # (k, 2, H, W, C)
    plots.image_grid(grid, exp_dir / "fake" / "pairs.png", col_labels=["G(z)", "G(z')"],
                     title=f"{config['attribute']} kept, {config['protected_attribute']} flipped")
    return path


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.experiment_dir(args, config)
    source, prior = generator_source(args, config, exp_dir)
    exp_dir = experiment.open_experiment(args, config)
    step = orig if args.generate == "orig" else flip
    return step(exp_dir, config, source, prior, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
