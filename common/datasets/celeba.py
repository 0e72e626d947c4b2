"""CelebA aligned faces: `img_align_celeba/` + `list_attr_celeba.txt` + `list_eval_partition.txt`
(+ `identity_CelebA.txt`, whose identities become the labels when present).

Images are centre-cropped to `crop` x `crop` (108, BEGAN/DCGAN style) and resized to `size` (64, or
128 for the de-biasing paper). Attributes come out as {0, 1}.

A user's own attribute-labelled images in this format: a folder holding `list_attr_celeba.txt`
(CelebA's attribute names) and the images it names, relative to the folder (no `img_align_celeba/`).
They are resized whole (the 108 px crop fits CelebA's aligned 178x218 faces only), and without
`list_eval_partition.txt` split 80/10/10 into train/val/test by a fixed seeded permutation.
"""
from pathlib import Path

import numpy as np

from common.datasets.base import Data, decode_all, missing, offline
from common.errors import UserError

SPLITS = ("train", "val", "test", "all")
PARTITION = {"train": 0, "val": 1, "test": 2}
EXPECTED = ("celeba/img_align_celeba/*.jpg, celeba/list_attr_celeba.txt and "
            "celeba/list_eval_partition.txt under the data dir")
ALIGNED = (178, 218)  # width, height of the aligned images


USER_SPLIT = (0.8, 0.1)     # train, val shares of a user's folder without a partition file


def locate(root, split):
    for base in (Path(root) / "celeba", Path(root)):
        if (base / "list_attr_celeba.txt").exists() and (base / "img_align_celeba").is_dir():
            return base / "list_attr_celeba.txt"
    if (Path(root) / "list_attr_celeba.txt").is_file():      # a user's own folder (module docstring)
        return Path(root) / "list_attr_celeba.txt"
    return None


def seeded_partition(n):
    """0/1/2 (train/val/test) per file of a user's folder: 80/10/10 by a fixed permutation, so every
    command of an experiment sees the same split."""
    order = np.random.default_rng(0).permutation(n)
    parts = np.full(n, 2, np.int64)
    n_train, n_val = int(round(USER_SPLIT[0] * n)), int(round(USER_SPLIT[1] * n))
    parts[order[:n_train]] = 0
    parts[order[n_train:n_train + n_val]] = 1
    return parts


def _pairs(path):
    """`<file> <value>` lines as a dict."""
    return dict(line.split()[:2] for line in path.read_text().splitlines() if line.strip())


def read_attributes(path):
    lines = path.read_text().splitlines()
    names = lines[1].split()
    files, values = [], []
    for line in lines[2:]:
        parts = line.split()
        if parts:
            files.append(parts[0])
            values.append([int(v) > 0 for v in parts[1:]])
    values = np.asarray(values, np.uint8)
    if values.shape[1:] != (len(names),):
        raise UserError(f"{path}: rows do not have one value per attribute name ({len(names)})")
    return files, values, names


def read(source, split, size=64, crop=108):
    root = source.parent
    aligned = (root / "img_align_celeba").is_dir()      # CelebA itself, else a user's folder
    try:
        files, attributes, names = read_attributes(source)
        partition_file = root / "list_eval_partition.txt"
        if split != "all":
            if partition_file.exists():
                partition = _pairs(partition_file)
                parts = np.array([int(partition.get(f, -1)) for f in files])
            elif aligned:
                raise UserError(f"{partition_file} is missing; it is needed for split {split!r}")
            else:
                parts = seeded_partition(len(files))
            keep = parts == PARTITION[split]
            files, attributes = [f for f, k in zip(files, keep) if k], attributes[keep]
        identity_file = root / "identity_CelebA.txt"
        if identity_file.exists():
            identity = _pairs(identity_file)
            ids = np.array([int(identity[f]) for f in files], np.int64)
            classes, labels = np.unique(ids, return_inverse=True)
        else:
            classes, labels = [], np.zeros(len(files), np.int64)
    except (OSError, ValueError, IndexError, KeyError) as e:
        raise UserError(f"cannot read CelebA annotations in {root}: {e}; expected {EXPECTED}") from None
    left, top = (ALIGNED[0] - crop) // 2, (ALIGNED[1] - crop) // 2
    box = (left, top, left + crop, top + crop) if aligned else None
    folder = root / "img_align_celeba" if aligned else root
    missing_files = [f for f in files if not (folder / f).is_file()]
    if missing_files:
        raise UserError(f"{source} names {len(missing_files)} image(s) not found under {folder}, e.g. {missing_files[0]}")
    images = decode_all([(folder / f, box) for f in files], size=size, channels=3)
    return Data(images, labels.astype(np.int64), [str(c) for c in classes], attributes, names)


def download(split, **options):
    if offline():
        raise missing("CelebA", EXPECTED)
    try:
        import tensorflow_datasets as tfds
        tfds.builder("celeb_a").download_and_prepare()
    except Exception as e:  # any network failure: say what to put where
        raise missing("CelebA", f"{EXPECTED} (download failed: {type(e).__name__})") from None
    raise missing("CelebA", f"{EXPECTED} (tensorflow-datasets has prepared celeb_a under "
                  "~/tensorflow_datasets; copy its extracted files into that layout)")
