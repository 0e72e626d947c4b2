"""Write a labelled synthetic MNIST set of a requested size from a trained CGAN or InfoGAN.

    python -m cgan_infogan.generate RUN_DIR --model cgan --num 30000 --output cgan_30k.npz
    python -m cgan_infogan.generate RUN_DIR --model infogan --variant noise1 --num 30000 --output info1.npz --data-dir D

Labels are balanced and interleaved (image i has label i mod 10), so every prefix of a set whose
length is a multiple of 10 is balanced too. The CGAN is conditioned on each label. The InfoGAN's
categorical codes carry no digit names: they are mapped to digits by classifying generated images of
each code with the reference MNIST classifier and solving the one-to-one assignment that agrees with
it most (scipy linear_sum_assignment), instead of the original's hand-typed order. Its variants
(the original's): noise1 sweeps continuous code 1 over linspace(-2, 2, 10) with code 2 at 0, noise2
the other way round; --code-range 1 sweeps the trained range [-1, 1] instead. Output: an npz with `images` (N, 28, 28, 1) uint8 and `labels` int64, and a
preview PNG beside it.
"""
import json
import os

import numpy as np

from common import cli
from common.errors import UserError
from cgan_infogan import synthetic


def parser():
    p = cli.ArgumentParser(prog="cgan_infogan/generate.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a train.py run directory (holding cgan/ and/or infogan/)")
    p.add_argument("--model", choices=("cgan", "infogan"), required=True)
    p.add_argument("--variant", choices=tuple(synthetic.VARIANTS), default="noise1",
                   help="InfoGAN: which continuous code is swept over linspace(-R, R, 10) (default noise1)")
    p.add_argument("--code-range", type=cli.bounded(float, 0, 4, low_open=True), default=None,
                   help="InfoGAN: R, in (0, 4], of the swept code (default 2, the original's; 1 stays in "
                        "the trained range U(-1, 1))")
    p.add_argument("--num", type=cli.positive_int, required=True, help="number of images")
    p.add_argument("--output", required=True, help="the generated set: an .npz file")
    p.add_argument("--data-dir", default=None, help="MNIST root for the reference classifier (InfoGAN)")
    p.add_argument("--reference-epochs", type=cli.positive_int, default=None,
                   help="epochs of the cached reference classifier to use (default: common.metrics' choice)")
    p.add_argument("-s", "--seed", type=cli.seed, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    out = cli.new_output(args.output, args.overwrite, "--output")
    if out.suffix != ".npz":
        raise UserError(f"--out {out} must end in .npz")
    synthetic.require_mnist(args.run_dir, "cgan_infogan.generate")
    loaded = synthetic.load_gan(args.run_dir, args.model)
    from common import datasets, training
    training.seed_everything(args.seed)
    synthetic.reseed(loaded[0], args.seed)
    source = args.model if args.model == "cgan" else f"infogan_{args.variant}"
    code_range = args.code_range or synthetic.ORIGINAL_RANGE     # the original's 2, as evaluate.py's profiles
    images, labels, info = synthetic.synthetic_set(args.run_dir, source, args.num,
                                                   lambda: synthetic.reference_predict(datasets.data_dir(args.data_dir),
                                                                                       args.reference_epochs),
                                                   loaded, code_range)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.npz")
    np.savez_compressed(tmp, images=images, labels=labels, info=json.dumps(info))
    os.replace(tmp, out)
    synthetic.preview(images, labels, out.with_suffix(".png"))
    print(f"wrote {out}: {len(images)} images, {np.bincount(labels, minlength=10).tolist()} per digit; {info}")


if __name__ == "__main__":
    main()
