"""What the augment commands share (python -m bagan.augment, dagan.augment, cgan_infogan.augment):
their flags, reading the user's data, how many images to generate per class, and writing the
augmented copy.

    python -m <package>.augment --data FOLDER --output DIR [--run RUN_DIR] [--per-class N | --balance]

The copy is DIR/<class>/real_NNNNN.png (the real images) and DIR/<class>/<method>_NNNNN.png (the
generated ones) with DIR/manifest.csv (path, class, synthetic, method, run, seed; DAGAN adds source:
the real image a generation came from); or one .npz (images, labels, synthetic, class_names) with
DIR_manifest.csv beside it. It is written to DIR.partial and renamed when complete, so DIR is
either the previous copy or the whole new one.
"""
import argparse
import csv
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError

MANIFEST = "manifest.csv"
COLUMNS = ["path", "class", "synthetic", "method", "run", "seed"]
NAMED = ("mnist", "cifar10", "gtsrb")     # datasets --data may name instead of a folder (per package: `named`)


def parser(prog, description, package, default_balance=False, run_help="a run directory of its train command",
           named=()):
    """The flags every augment command takes; a package adds its own to the returned parser.
    Flags after `--` go to the package's train command unchanged (`args.train_args`). `named`: the
    datasets of NAMED its train command reads, which --data may name instead of a folder."""
    p = cli.ArgumentParser(prog=prog, description=description,
                           epilog=f"Flags after -- go to python -m {package}.train when it trains.")
    p.add_argument("--data", default=None,
                   help="a folder with one sub-folder of images per class"
                        + (f" (or {', '.join(named)}, read from --data-dir)" if named else ""))
    p.add_argument("--output", required=True, help="where the augmented copy goes (a new folder, or a .npz)")
    p.add_argument("--run", default=None, help=f"generate with this trained run ({run_help}) instead of training one")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--per-class", type=cli.positive_int, default=None,
                     help="generate N images for every class")
    how.add_argument("--balance", action="store_true", default=None,
                     help="generate for every class up to the largest class's count"
                          + (" (default)" if default_balance else ""))
    p.add_argument("-s", "--seed", type=cli.seed, default=0, help="seeds training and generation (default 0)")
    p.add_argument("--profile", choices=("smoke", "quick", "paper"), default="quick",
                   help="training profile when no --run is given (default quick)")
    p.add_argument("--image-size", type=cli.image_size, default=None,
                   help="resize the images to SIZE or HEIGHTxWIDTH (default: as found; they must agree)")
    p.add_argument("--out", default=None, help=f"parent folder of the training run (default results/{package})")
    if named:
        p.add_argument("--data-dir", default=None, help="dataset root for a named dataset (default $GAN_DATA_DIR, else ./data)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --output (a training run resumes; `-- --overwrite` restarts it)")
    p.add_argument("train_args", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(default_balance=default_balance, named=tuple(named), data_dir=None)
    return p


def parse(p, argv):
    """Parsed flags, with the output checked before anything is trained."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = p.parse_args(argv)
    if args.train_args and "--" not in argv:      # a stray word would otherwise reach the train command
        raise UserError(f"unexpected argument {args.train_args[0]!r}; flags for the train command go after --")
    if args.per_class is None and not args.balance:
        if not args.default_balance:
            raise UserError("say how many images to generate: --per-class N or --balance")
        args.balance = True
    args.output = check_output(args.output, args.overwrite)
    return args


def check_output(path, overwrite):
    """The output path; an existing one is replaced only with --overwrite and only if it is an
    earlier augmented copy (or empty), so a mistyped --output never deletes a user's folder."""
    path = cli.new_output(path, overwrite, "--output")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).is_file():
        raise UserError(f"{path} is a folder that no augment command wrote (no {MANIFEST}); choose another --output")
    if path.suffix == ".npz" and path.is_dir():
        raise UserError(f"{path} is a folder; an .npz output must be a file")
    return path


def load_data(args):
    """The user's data (common.datasets.Data, class names = sub-folder names), at --image-size."""
    if not args.data:
        raise UserError("give --data FOLDER (one sub-folder of images per class)")
    from common import datasets
    options = {"size": args.image_size} if args.image_size else {}
    name = str(args.data).lower()
    if name in NAMED and name not in args.named and not Path(args.data).is_dir():
        raise UserError(f"--data {args.data}: this method reads a folder of class folders"
                        + (f" or {', '.join(args.named)}" if args.named else "") + f", not {name}")
    if name in args.named:       # as the train commands read it (a folder of that name: ./NAME)
        if args.image_size and (name != "gtsrb" or args.image_size[0] != args.image_size[1]):
            raise UserError(f"--image-size {'x'.join(map(str, args.image_size))}: {name} has one size "
                            "(gtsrb: a square SIZE); resize a folder instead")
        if args.image_size:
            options["size"] = args.image_size[0]
        data = datasets.load(name, "train", datasets.data_dir(args.data_dir), **options)
        if not data.class_names:
            data.class_names = [str(i) for i in range(int(data.labels.max()) + 1)]
    else:
        folder = Path(args.data).expanduser()
        if not folder.is_dir():
            raise UserError(f"--data {folder}: no such folder; give a folder with one sub-folder of images per class")
        data = datasets.load(str(folder), None, **options)
    if len(data.class_names) < 2:
        raise UserError(f"--data {args.data} holds {len(data.class_names)} class; augmenting needs 2 or more "
                        "class sub-folders")
    return data


def plan(labels, num_classes, per_class=None, balance=False):
    """How many images to generate for each class: N each, or up to the largest class."""
    counts = np.bincount(labels, minlength=num_classes)
    if per_class:
        return np.full(num_classes, per_class, np.int64)
    return counts.max() - counts


def check_classes(run_names, data_names, run_dir):
    """A reused run must have been trained on the same classes, in the same order."""
    if [str(n) for n in run_names] != [str(n) for n in data_names]:
        raise UserError(f"{run_dir} was trained on classes {', '.join(map(str, run_names))}, but --data has "
                        f"{', '.join(map(str, data_names))}; train on this data (leave out --run)")


def start(p, argv, package, train_argv, model=None):
    """What every augment command does first: parse the flags, read --data, take --run or train (or
    resume) the package's model on --data with `train_argv(args)`, and load the run's generator
    (`model(args)` picks one of several). Returns (args, data, run_dir, generator)."""
    import importlib
    args = parse(p, argv)
    data = load_data(args)
    if args.run:
        run_dir = Path(args.run)
    else:        # TensorFlow is imported only here, once the flags and the data are known to be good
        run_dir = importlib.import_module(f"{package}.run").train(train_argv(args))
    from common import generators
    return args, data, run_dir, generators.load(run_dir, model=model(args) if model else None)


def check_shape(generator, data, run_dir):
    """The run must make images of the data's shape (the generated and real images share a folder)."""
    if tuple(data.images.shape[1:]) != tuple(generator.image_shape):
        h, w, c = generator.image_shape
        raise UserError(f"{run_dir} makes {h}x{w}x{c} images, --data is {'x'.join(map(str, data.images.shape[1:]))}; "
                        f"give --image-size {h}x{w} (and images with {c} channel{'s' if c > 1 else ''})")


def write(output, data, fake, fake_labels, method, run, seed, sources=None, fmt=None):
    """Write the real images of `data` and the generated `fake` (uint8 NHWC, labels `fake_labels`)
    to `output` (see the module docstring); `sources`: per generated image, the index of the real
    image it came from (DAGAN). Prints per-class counts and returns `output`."""
    output = Path(output)
    fmt = fmt or ("npz" if output.suffix == ".npz" else "folder")
    names = [str(n) for n in data.class_names]
    fake = np.asarray(fake, np.uint8).reshape(-1, *data.images.shape[1:])
    fake_labels = np.asarray(fake_labels, np.int64)
    columns = COLUMNS + (["source"] if sources is not None else [])
    tmp = output.with_name(output.name + ".partial")
    # inside the .partial folder (renamed with it); beside an .npz, its own .partial then renamed
    manifest = tmp / MANIFEST if fmt == "folder" else output.with_name(output.stem + "_" + MANIFEST)
    manifest_tmp = manifest if fmt == "folder" else manifest.with_name(manifest.name + ".partial")
    _remove(tmp)
    try:
        if fmt == "folder":
            tmp.mkdir(parents=True)
            for name in names:
                (tmp / name).mkdir()
            real_paths = [f"{names[y]}/real_{i:05d}.png" for i, y in enumerate(data.labels)]
            fake_paths = [f"{names[y]}/{method}_{i:05d}.png" for i, y in enumerate(fake_labels)]
            from PIL import Image
            for rel, img in zip(real_paths + fake_paths, _chain(data.images, fake)):
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(tmp / rel)
        else:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, images=np.concatenate([data.images, fake]),
                         labels=np.concatenate([data.labels, fake_labels]),
                         synthetic=np.repeat([False, True], [len(data.images), len(fake)]),
                         class_names=np.array(names))
            real_paths = [f"images[{i}]" for i in range(len(data.images))]
            fake_paths = [f"images[{len(data.images) + i}]" for i in range(len(fake))]
        rows = [[p, names[y], 0, "", "", ""] + ([""] if sources is not None else [])
                for p, y in zip(real_paths, data.labels)]
        rows += [[p, names[y], 1, method, str(run), seed] + ([real_paths[sources[i]]] if sources is not None else [])
                 for i, (p, y) in enumerate(zip(fake_paths, fake_labels))]
        with open(manifest_tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(rows)
        _remove(output)
        os.replace(tmp, output)
        if fmt != "folder":
            os.replace(manifest_tmp, manifest)
    except BaseException:        # a failed or interrupted write leaves no .partial behind
        _remove(tmp)
        if fmt != "folder":
            _remove(manifest_tmp)
        raise
    report(output, names, data.labels, fake_labels)
    return output


def _chain(*arrays):
    for a in arrays:
        yield from a


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def report(output, names, real_labels, fake_labels):
    real = np.bincount(real_labels, minlength=len(names))
    fake = np.bincount(fake_labels, minlength=len(names))
    width = max(len(n) for n in names)
    print(f"wrote {output}: {int(real.sum() + fake.sum())} images ({int(fake.sum())} synthetic)")
    print(f"  {'class':<{width}}  {'real':>6}  {'synthetic':>9}  {'total':>6}")
    for name, r, s in zip(names, real, fake):
        print(f"  {name:<{width}}  {r:>6}  {s:>9}  {r + s:>6}")
