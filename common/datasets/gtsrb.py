"""GTSRB: the Kaggle layout (Train.csv/Test.csv + PNGs) and the official one
(`Final_Training/Images/000NN/*.ppm` + `GT-000NN.csv`, `Final_Test/Images` + `GT-final_test.csv`).

Optionally cropped to the annotated region of interest; resized to `size` (default 32).
"""
from pathlib import Path

import numpy as np
import pandas as pd

from common.datasets.base import Data, decode_all, missing
from common.errors import UserError

SPLITS = ("train", "test")
EXPECTED = ("gtsrb/Train.csv, Test.csv and the PNGs they list (Kaggle layout), or "
            "gtsrb/Final_Training/Images/000NN/GT-000NN.csv + *.ppm (official layout) under the data dir")
ROI = ["Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"]


def locate(root, split):
    kaggle = {"train": "Train.csv", "test": "Test.csv"}[split]
    official = {"train": "Final_Training/Images", "test": "Final_Test/Images"}[split]
    for base in (Path(root) / "gtsrb", Path(root)):
        for name in (kaggle, official):
            if (base / name).exists():
                return base / name
    return None


def _table(source):
    """(file path, ROI box, class) rows from either layout."""
    try:
        if source.is_file():                                   # Kaggle: paths relative to the csv
            table = pd.read_csv(source)
            table["file"] = [source.parent / p for p in table["Path"]]
            return table
        frames = []                                            # official: one csv per class folder
        csvs = sorted(source.glob("GT-*.csv")) + sorted(source.glob("*/GT-*.csv"))
        for csv in csvs:
            t = pd.read_csv(csv, sep=";")
            t["file"] = [csv.parent / f for f in t["Filename"]]
            frames.append(t)
        if not frames:
            raise UserError(f"{source} holds no GT-*.csv annotation files; expected {EXPECTED}")
        return pd.concat(frames, ignore_index=True)
    except (OSError, pd.errors.ParserError, KeyError) as e:
        raise UserError(f"cannot read GTSRB annotations in {source}: {e}; expected {EXPECTED}") from None


def read(source, split, size=32, roi=False):
    table = _table(source)
    missing_cols = [c for c in ROI + ["ClassId"] if c not in table]
    if missing_cols:
        raise UserError(f"GTSRB annotations in {source} lack columns {missing_cols}")
    boxes = ([tuple(int(v) for v in r) for r in table[ROI].to_numpy() + [0, 0, 1, 1]]  # X2, Y2 inclusive
             if roi else [None] * len(table))
    images = decode_all(list(zip(table["file"], boxes)), size=size, channels=3)
    labels = table["ClassId"].to_numpy(np.int64)
    return Data(images, labels, [str(c) for c in range(max(43, int(labels.max()) + 1))])


def download(split, **options):
    raise missing("GTSRB", EXPECTED)
