"""DAGAN's images and their class split (training / validation / held out), shared by dagan.train and
dagan.evaluate."""
from pathlib import Path

from common import datasets
from common.errors import UserError

OMNIGLOT_SPLIT = (1200, 200)    # dagan_torch: 1200 training classes, 200 for visual checks


def load(config, data_dir):
    """(images uint8 NHWC, labels) of every class, in class order."""
    if config["dataset"] == "omniglot":
        data = datasets.load("omniglot", "all", data_dir)
    else:
        folder = Path(config["dataset"]).expanduser()
        if not folder.is_dir():
            raise UserError(f"--dataset {folder}: not 'omniglot' and not a folder of class folders")
        size = tuple(config["image_size"]) if config["image_size"] else None
        data = datasets.load(str(folder), size=size)
    return data.images, data.labels


def split_classes(config, labels):
    """Class ranges (train, val, held out) from the configured counts."""
    n = int(labels.max()) + 1
    omniglot = config["dataset"] == "omniglot"
    val = config["val_classes"] if config["val_classes"] is not None else (OMNIGLOT_SPLIT[1] if omniglot else 0)
    train = config["train_classes"] or (OMNIGLOT_SPLIT[0] if omniglot else n - val)
    if train < 1 or train + val > n:
        raise UserError(f"{train} training + {val} validation classes do not fit in the dataset's {n} classes; "
                        "lower --num-training-classes or --num-val-classes")
    return range(0, train), range(train, train + val), range(train + val, n)
