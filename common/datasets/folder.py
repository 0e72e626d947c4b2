"""The user's own data: a folder with one sub-folder of images per class (sorted names = labels)."""
from pathlib import Path

import numpy as np

from common.datasets.base import IMAGE_SUFFIXES, Data, decode_all, open_image
from common.errors import UserError

SPLITS = None  # a folder is one split


def class_files(root):
    root = Path(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"{root} has no class sub-folders; expected {root}/<class name>/<image files>")
    files = {}
    for c in classes:
        images = sorted(p for p in c.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise UserError(f"class folder {c} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        files[c.name] = images
    return files


def read(source, split, size=None, channels=None):
    files = class_files(source)
    if channels is None:   # colour if the first image of any class is colour
        modes = {open_image(paths[0]).mode for paths in files.values()}
        channels = 1 if modes <= {"L", "1", "I;16", "I", "F", "LA"} else 3
    paths = [p for paths in files.values() for p in paths]
    labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(files.values())])
    return Data(decode_all(paths, size=size, channels=channels), labels.astype(np.int64), list(files))
