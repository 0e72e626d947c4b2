"""Images from a trained BEGAN run: samples, interpolations between two z, autoencoder reconstructions.

    python -m began.generate results/began/celeba_32px_quick_seed0 --num 64 --interpolate 6 --reconstruct 8

Writes OUT/samples.png and samples.npz (uint8), OUT/interpolation.png (one row per pair of z, linear
steps between them) and OUT/reconstruction.png (held-out real images over their D(x)); OUT defaults
to RUN_DIR/generated.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import cli, datasets  # noqa: E402
from common.cli import bounded, positive_int  # noqa: E402
from common.errors import UserError  # noqa: E402


def read_config(run_dir):
    run_dir = Path(run_dir)
    if not (run_dir / cli.CONFIG_FILE).exists():
        raise UserError(f"{run_dir} is not a BEGAN run directory (no {cli.CONFIG_FILE}); "
                        "pass the folder began.train wrote")
    if not (run_dir / cli.STATE_FILE).exists():
        raise UserError(f"{run_dir} has no checkpoint yet; train it first (python -m began.train ...)")
    return cli.read_config(run_dir)


def load_run(run_dir):
    """(config, model) of a run, with its latest checkpoint restored."""
    config = read_config(run_dir)
    from began import gan
    from common import training
    model = gan.build(config, steps_per_epoch=1)()
    epoch = training.load_checkpoint(model, run_dir)
    return config, model, epoch


def generate(model, z):
    return np.clip(model.generator.predict(np.asarray(z, np.float32), verbose=0), -1, 1)


def latent(model, n, seed):
    """z ~ U[-1, 1]^h from NumPy (reproducible per seed, independent of the model's RNG)."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, model.hidden)).astype(np.float32)


def interpolations(model, pairs, steps, seed):
    """(pairs, steps, H, W, C): G on the straight line between two z (the paper's Figure 4)."""
    ends = latent(model, 2 * pairs, seed).reshape(pairs, 2, -1)
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]
    return generate(model, z.reshape(pairs * steps, -1)).reshape(pairs, steps, *model.generator.output_shape[1:])


def held_out_images(config, data_dir, n=None, seed=0):
    """Real images the model did not train on: CelebA's test split; for a folder, its own images."""
    from began.train import load_images
    images = load_images(config, data_dir, split="test")
    if n is not None and n < len(images):
        images = images[np.sort(np.random.default_rng(seed).permutation(len(images))[:n])]
    return images


def reconstructions(model, images_uint8):
    """(2, N, H, W, C): real images in [-1, 1] over D's reconstructions of them."""
    from common import pipeline
    real = np.asarray(pipeline.scale(images_uint8))
    return np.stack([real, np.clip(model.reconstruct(real).numpy(), -1, 1)])


def grid(images, cols):
    rows = -(-len(images) // cols)
    pad = rows * cols - len(images)
    images = np.concatenate([images, np.full((pad, *images.shape[1:]), -1.0, images.dtype)])
    return images.reshape(rows, cols, *images.shape[1:])


@cli.main
def main(argv=None):
    p = cli.ArgumentParser(prog="began.generate", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a run directory written by began.train")
    p.add_argument("--num", type=positive_int, default=64, help="samples to draw (default 64)")
    p.add_argument("--interpolate", type=bounded(int, 0), default=6, help="pairs of z to interpolate (0: none)")
    p.add_argument("--steps", type=bounded(int, 2), default=8, help="images per interpolation (default 8)")
    p.add_argument("--reconstruct", type=bounded(int, 0), default=8, help="held-out images to reconstruct (0: none)")
    p.add_argument("--data-dir", default=None, help="dataset root for --reconstruct (default $GAN_DATA_DIR)")
    p.add_argument("-s", "--seed", type=cli.seed, default=0, help="seed of z (default 0)")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/generated)")
    args = p.parse_args(argv)
    read_config(args.run_dir)
    data_dir = datasets.data_dir(args.data_dir) if args.reconstruct else None

    from common import pipeline, plots
    config, model, epoch = load_run(args.run_dir)
    out = Path(args.out or Path(args.run_dir) / "generated")
    out.mkdir(parents=True, exist_ok=True)
    samples = generate(model, latent(model, args.num, args.seed))
    np.savez_compressed(out / "samples.npz", images=pipeline.to_uint8(samples))
    plots.image_grid(grid(samples, min(8, args.num)), out / "samples.png",
                     title=f"BEGAN samples (epoch {epoch}, seed {args.seed})")
    written = [out / "samples.png", out / "samples.npz"]
    if args.interpolate:
        plots.image_grid(interpolations(model, args.interpolate, args.steps, args.seed + 1),
                         out / "interpolation.png", title="G((1 - t) z1 + t z2), t from 0 to 1")
        written.append(out / "interpolation.png")
    if args.reconstruct:
        real = held_out_images(config, data_dir, args.reconstruct, args.seed)
        plots.image_grid(reconstructions(model, real), out / "reconstruction.png",
                         row_labels=["x", "D(x)"], title="autoencoder reconstructions of held-out images")
        written.append(out / "reconstruction.png")
    print("wrote " + ", ".join(map(str, written)))
    return written


if __name__ == "__main__":
    main()
