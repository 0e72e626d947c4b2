"""FID/KID of a BEGAN discriminator's reconstructions of real training faces against held-out real
ones: the sharpness D's autoencoder can represent at all (BEGAN's G is trained toward what D
reconstructs well, so its samples are not expected to score better).

    python scripts/began_recon_fid.py RUN_DIR [--data-dir ../shared/data] [--n 660]
"""
# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import cli, datasets, pipeline

import numpy as np

from began.data import load_images
from began.sampling import held_out_images, load_run, reconstructions


@cli.main
def main(argv=None):
    p = cli.ArgumentParser(prog="scripts/began_recon_fid.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=cli.bounded(int, 2), default=660)
    args = p.parse_args(argv)
    from common.metrics.fid import fid_kid
    data_dir = datasets.data_dir(args.data_dir)
    config, model, epoch = load_run(args.run_dir)
    real = held_out_images(config, data_dir, args.n)
    train = load_images(config, data_dir, split="train")
    train = train[np.sort(np.random.default_rng(2000).permutation(len(train))[:len(real)])]
    rec = np.concatenate([reconstructions(model, train[i:i + 110])[1] for i in range(0, len(train), 110)])
    s = fid_kid(real, pipeline.to_uint8(rec), data_dir=data_dir)
    print(f"epoch {epoch}: D's reconstructions of {len(train)} training images vs {len(real)} held-out: "
          f"FID {s['fid']:.2f}, KID {s['kid_mean']:.5f}")


if __name__ == "__main__":
    main()
