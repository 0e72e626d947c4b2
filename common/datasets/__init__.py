"""Datasets in their real on-disk formats behind one `load(name, split, data_dir, ...)`.

Every loader returns a `Data` of uint8 NHWC images and int64 labels (CelebA adds its attribute
matrix). Decoded arrays are cached as npz, keyed by source file, split and options, so image files
are decoded once. Where files are absent and a public download exists, it is used when online;
offline, the error names the files and layout expected.
"""
import hashlib
import json
import os
import zipfile
from pathlib import Path

from common.datasets.base import Data, IMAGE_SUFFIXES  # noqa: F401  (re-exported)
from common.datasets import celeba, cifar10, folder, gtsrb, mnist, omniglot
from common.errors import UserError

LOADERS = {"mnist": mnist, "cifar10": cifar10, "omniglot": omniglot, "gtsrb": gtsrb,
           "celeba": celeba}


def data_dir(flag=None):
    """`--data-dir`, else $GAN_DATA_DIR, else ./data; a directory named explicitly must exist."""
    if flag:
        path = Path(flag).expanduser()
        if not path.is_dir():
            raise UserError(f"data dir {path} does not exist (pass --data-dir DIR or set GAN_DATA_DIR)")
        return path
    if os.environ.get("GAN_DATA_DIR"):
        return data_dir(os.environ["GAN_DATA_DIR"])
    return Path("data")


_resolve_data_dir = data_dir  # `load` takes a parameter of the same name


def cache_dir():
    return Path(os.environ.get("GAN_CACHE_DIR", Path.home() / ".cache" / "gan-suite"))


def load(name, split="train", data_dir=None, **options):
    """Load a dataset by name (mnist, cifar10, omniglot, gtsrb, celeba) or as a folder of class folders.

    `data_dir` is the dataset root (default: `data_dir()`); each dataset is looked for in
    `<root>/<name>/` and in `<root>` itself. A path to an existing directory as `name` loads the
    user's own images (one sub-folder per class; pass `size=` to resize).
    """
    root = Path(data_dir) if data_dir is not None else _resolve_data_dir()
    key = str(name).lower()
    if key in LOADERS:
        module = LOADERS[key]
        if split not in module.SPLITS:
            raise UserError(f"{key} has no split {split!r}; choose one of {', '.join(module.SPLITS)}")
        source = module.locate(root, split)
        if source is None:
            return module.download(split, **options)
    elif Path(name).is_dir():
        module, source = folder, Path(name)
    else:
        raise UserError(f"unknown dataset {name!r}: choose {', '.join(LOADERS)}, "
                        "or give a folder with one sub-folder of images per class")
    return _cached(module, source, split, options)


def _fingerprint(source):
    """Identity of the files a loader reads: path, size and modification time (of every file in a
    folder, so that adding an image to a class folder invalidates the cache)."""
    source = Path(source).resolve()
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    digest = hashlib.sha1()
    for p in files:
        stat = p.stat()
        digest.update(f"{p}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return [str(source), digest.hexdigest()]


def _cached(module, source, split, options):
    key = json.dumps([module.__name__, _fingerprint(source), split, options], sort_keys=True,
                     default=str)
    path = cache_dir() / f"{module.__name__.rsplit('.', 1)[-1]}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        try:
            return Data.from_npz(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    try:
        data = module.read(source, split, **options)
        data.check()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        # a truncated or damaged file, or arrays of the wrong shape: name it in one line
        raise UserError(f"cannot read {source}: {e}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        data.to_npz(tmp)
        os.replace(tmp, path)
    except OSError:
        pass  # caching is an optimisation; a read-only home must not stop a run
    return data
