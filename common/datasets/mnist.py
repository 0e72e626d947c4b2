"""MNIST: the Keras `mnist.npz` layout, or the four original IDX `.gz` files."""
import gzip
import zipfile
from pathlib import Path

import numpy as np

from common.datasets.base import Data, find, missing, offline

SPLITS = ("train", "test")
IDX = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
       "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
EXPECTED = ("mnist/mnist.npz (keys x_train, y_train, x_test, y_test) or the IDX files "
            "mnist/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz under the data dir")
CLASSES = [str(i) for i in range(10)]


def locate(root, split):
    for base in (Path(root) / "mnist", Path(root)):
        found = find(base, "mnist.npz", IDX[split][0])
        if found:
            return found
    return None


def read_idx(path):
    """An IDX file (gzipped or not): magic (0, 0, dtype 0x08, ndim), big-endian dims, uint8 data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _data(x, y):
    return Data(np.asarray(x, np.uint8)[..., None], np.asarray(y, np.int64), CLASSES)


def read(source, split):
    from common.errors import UserError
    try:
        if source.suffix == ".npz":
            with np.load(source) as z:
                return _data(z[f"x_{split}"], z[f"y_{split}"])
        return _data(read_idx(source), read_idx(source.with_name(IDX[split][1])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"cannot read MNIST from {source}: {e}; expected {EXPECTED}") from None


def download(split):
    if offline():
        raise missing("MNIST", EXPECTED)
    import keras
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # any network failure: say what to put where
        raise missing("MNIST", f"{EXPECTED} (download failed: {type(e).__name__})") from None
    return _data(x_train, y_train) if split == "train" else _data(x_test, y_test)
