"""Write a balanced copy of an imbalanced dataset: every class filled up to the majority count with
BAGAN images, as an image folder (one sub-folder per class) or an npz, with a manifest.csv that
marks the synthetic images.

    python bagan/augment.py --run results/bagan/res_GTSRB_... --output gtsrb_balanced
    python bagan/augment.py --output my_balanced -- -D path/to/folder --keep-imbalance --size 32

Without --run a BAGAN is trained first with bagan/train.py's flags given after `--` (and resumed if
that run exists).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import csv  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from common.errors import UserError  # noqa: E402


def parser():
    p = cli.ArgumentParser(prog="bagan/augment.py", description=__doc__.split("\n")[0])
    p.add_argument("--run", default=None, help="a res_... directory of bagan/train.py to generate with")
    p.add_argument("--tag", default=None,
                   help="which trained class's BAGAN to use when the run holds several (default: the only one)")
    p.add_argument("--output", required=True, help="where the balanced copy goes (a folder, or a .npz file)")
    p.add_argument("--format", choices=("folder", "npz"), default=None,
                   help="folder of PNGs or one npz (default: npz when --output ends in .npz)")
    p.add_argument("--data-dir", default=None, help="dataset root (default: the run's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-s", "--seed", type=cli.seed, default=0)
    p.add_argument("train_args", nargs="*", help="bagan/train.py flags (after --) when --run is not given")
    return p


def balanced_copy(images, labels, generator, num_classes, rng):
    """The real images plus, per class, majority count - class count generated ones.
    Returns images, labels, synthetic flags."""
    counts = np.bincount(labels, minlength=num_classes)
    missing = counts.max() - counts
    fill = np.repeat(np.arange(num_classes), missing)
    fake = generator(fill, rng) if len(fill) else np.zeros((0, *images.shape[1:]), np.uint8)
    return (np.concatenate([images, fake]), np.concatenate([labels, fill]).astype(np.int64),
            np.concatenate([np.zeros(len(images), bool), np.ones(len(fill), bool)]))


def write_folder(path, images, labels, synthetic, class_names):
    from PIL import Image
    rows = []
    for i, (img, y, s) in enumerate(zip(images, labels, synthetic)):
        rel = Path(class_names[y]) / f"{'synthetic' if s else 'real'}_{i:06d}.png"
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(path / rel)
        rows.append((str(rel), int(y), class_names[y], int(s)))
    return rows


def write_manifest(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "class_name", "synthetic"])
        writer.writerows(rows)


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    output = cli.new_output(args.output, args.overwrite, "--output")
    fmt = args.format or ("npz" if output.suffix == ".npz" else "folder")
    from bagan import run, sampling
    from bagan.profiles import PROFILES
    if args.run:
        run_dir = Path(args.run)
    elif args.train_args:
        run_dir = run.train(cli.parse_args(run.parser(), args.train_args, PROFILES))
    else:
        raise UserError("give --run RUN_DIR, or bagan/train.py flags after -- to train a BAGAN first")
    config = sampling.load_run(run_dir)
    tags = sampling.trained_tags(run_dir)
    tag = args.tag or (tags[0] if len(tags) == 1 else None)
    if tag not in tags:
        raise UserError(f"{run_dir} holds BAGANs for {', '.join(tags)}; choose one with --tag")
    from common import datasets
    data_dir = datasets.data_dir(args.data_dir or config.get("data_dir"))
    data = run.training_subset(run.load_data(config, data_dir)[0], config)
    kept = np.load(run_dir / f"{tag}_kept_indices.npy")
    images, labels = data.images[kept], data.labels[kept]
    k = config["num_classes"]
    names = [str(n) for n in (config.get("class_names") or range(k))]
    names += [str(i) for i in range(len(names), k)]
    generator = sampling.Generator(run_dir, config, tag)
    x, y, synthetic = balanced_copy(images, labels, generator, k, np.random.default_rng(args.seed))
    tmp = output.with_name(output.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    if fmt == "folder":
        tmp.mkdir(parents=True)
        write_manifest(tmp / "manifest.csv", write_folder(tmp, x, y, synthetic, names))
    else:
        with open(tmp, "wb") as f:
            np.savez(f, images=x, labels=y, synthetic=synthetic, class_names=np.array(names))
        write_manifest(output.with_name(output.stem + "_manifest.csv"),
                       [(f"images[{i}]", int(label), names[label], int(s))
                        for i, (label, s) in enumerate(zip(y, synthetic))])
    if output.exists():
        shutil.rmtree(output) if output.is_dir() else output.unlink()
    os.replace(tmp, output)
    counts = np.bincount(y, minlength=k)
    print(f"wrote {output}: {len(y)} images ({int(synthetic.sum())} synthetic), {counts.min()} to "
          f"{counts.max()} per class")
    return output


if __name__ == "__main__":
    main()
