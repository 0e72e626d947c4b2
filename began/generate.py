"""Images from a trained BEGAN run: samples, interpolations between two z, autoencoder reconstructions.

    python -m began.generate results/began/celeba_32px_quick_seed0 --num 64 --interpolate 6 --reconstruct 8

Writes OUT/samples.png and samples.npz (uint8), OUT/interpolation.png (one row per pair of z, linear
steps between them) and OUT/reconstruction.png (held-out real images over their D(x)); OUT defaults
to RUN_DIR/generated.
"""

from pathlib import Path

import numpy as np

from common import cli, datasets
from common.cli import bounded, positive_int
from began.sampling import (generate, grid, held_out_images, interpolations, latent,
                            load_run, read_config, reconstructions)


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
    p.add_argument("--output", default=None, help="output folder (default RUN_DIR/generated)")
    args = p.parse_args(argv)
    read_config(args.run_dir)
    data_dir = datasets.data_dir(args.data_dir) if args.reconstruct else None

    from common import pipeline, plots
    config, model, epoch = load_run(args.run_dir)
    out = Path(args.output or Path(args.run_dir) / "generated")
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
