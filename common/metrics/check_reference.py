"""Check this installation's FID/KID against shared/data/fid/reference.npz and time the features.

    python -m common.metrics.check_reference --data-dir ../shared/data [--n 500] [--batch-size 50]

Prints the max |pool3 - reference| on the 24 reference inputs, then FID and KID (full-set KID, as
the reference defines it) of the two 500-image MNIST sets next to the reference values, and the
feature-extraction throughput in images/s.
"""
import json
import time
from pathlib import Path

import numpy as np

from common.cli import ArgumentParser, bounded, main
from common.errors import UserError


@main
def cli(argv=None):
    parser = ArgumentParser(prog="python -m common.metrics.check_reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="dataset root holding fid/ (default $GAN_DATA_DIR)")
    parser.add_argument("--n", type=bounded(int, 2, 500), default=500, help="images per MNIST set (<= 500)")
    parser.add_argument("--batch-size", type=bounded(int, 1), default=50)
    args = parser.parse_args(argv)

    from common.datasets import data_dir
    from common.metrics import fid, inception
    ref_path = Path(data_dir(args.data_dir)) / "fid" / "reference.npz"
    if not ref_path.is_file():
        raise UserError(f"{ref_path} not found; pass --data-dir with the folder that holds fid/")
    ref = np.load(ref_path)
    weights = inception.weights_path(None, args.data_dir)

    start = time.time()
    inception.inception(weights)
    build_s = time.time() - start
    feats = inception.pool3(ref["inputs_uint8"], weights, batch_size=args.batch_size, verbose=0)
    result = {"build_seconds": round(build_s, 1),
              "pool3_max_abs_diff_24_inputs": float(np.abs(feats - ref["pool3"]).max())}

    a, b = ref["fid_sets_images_A_gray64"][:args.n], ref["fid_sets_images_B_gray64"][:args.n]
    start = time.time()
    fa = inception.pool3(a, weights, batch_size=args.batch_size)
    fb = inception.pool3(b, weights, batch_size=args.batch_size)
    seconds = time.time() - start
    result.update({"images": 2 * args.n, "extract_seconds": round(seconds, 1),
                   "images_per_second": round(2 * args.n / seconds, 2),
                   "feats_max_abs_diff": float(max(np.abs(fa - ref["fid_sets_feats_A"][:args.n]).max(),
                                                   np.abs(fb - ref["fid_sets_feats_B"][:args.n]).max()))})
    mu_a, sigma_a = fid.statistics(fa)
    mu_b, sigma_b = fid.statistics(fb)
    result["mu_max_abs_diff"] = float(np.abs(mu_a - fid.statistics(ref["fid_sets_feats_A"][:args.n])[0]).max())
    result["fid"] = fid.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
    result["kid_full_sets"] = fid.kid(fa, fb, subset_size=args.n)[0]
    if args.n == 500:
        result["reference_fid"] = float(ref["fid_sets_fid"])
        result["reference_kid"] = float(ref["fid_sets_kid"])
    result["feature_network"] = inception.NAME
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    cli()
