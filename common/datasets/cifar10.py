"""CIFAR-10: the `cifar-10-batches-py` layout (pickled batches of 10,000 rows of 3072 bytes)."""
import pickle
from pathlib import Path

import numpy as np

from common.datasets.base import Data, find, missing, offline
from common.errors import UserError

SPLITS = ("train", "test")
FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
EXPECTED = ("cifar10/cifar-10-batches-py/ with data_batch_1..5, test_batch and batches.meta "
            "(the python version from the CIFAR-10 site) under the data dir")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def locate(root, split):
    for base in (Path(root) / "cifar10", Path(root)):
        found = find(base, "cifar-10-batches-py")
        if found and (found / FILES[split][0]).exists():
            return found / FILES[split][0]
    return None


def read(source, split):
    xs, ys = [], []
    for name in FILES[split]:
        path = source.with_name(name)
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(batch[b"labels"], np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
            raise UserError(f"cannot read CIFAR-10 batch {path}: {e}; expected {EXPECTED}") from None
    return Data(np.concatenate(xs), np.concatenate(ys), CLASSES)


def download(split):
    if offline():
        raise missing("CIFAR-10", EXPECTED)
    import keras
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as e:  # any network failure: say what to put where
        raise missing("CIFAR-10", f"{EXPECTED} (download failed: {type(e).__name__})") from None
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    return Data(x.astype(np.uint8), y.reshape(-1).astype(np.int64), CLASSES)
