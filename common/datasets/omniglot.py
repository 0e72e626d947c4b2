"""Omniglot: the npz layout (bool, True = background), the original PNG folder or zip layout
(`<Alphabet>/characterNN/*.png`), and DAGAN's `omniglot_data.npy` (classes, 20, 28, 28, 1).

Every layout comes out as 28x28x1 uint8 with one polarity: strokes bright (255) on a dark (0)
background, the original 105x105 images reduced by area averaging.
"""
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from common.datasets.base import Data, missing, offline, open_image
from common.errors import UserError

SPLITS = ("all", "background", "evaluation", "background_small1", "background_small2")
SIZE = 28
EXPECTED = ("omniglot/images_background.npz and images_evaluation.npz, or the PNG folders/zips "
            "omniglot/images_background/<Alphabet>/characterNN/*.png, or DAGAN's "
            "omniglot/omniglot_data.npy under the data dir")


def locate(root, split):
    for base in (Path(root) / "omniglot", Path(root)):
        names = ["omniglot_data.npy"] if split == "all" else []
        stem = "images_background" if split == "all" else f"images_{split}"
        names += [f"{stem}.npz", stem, f"{stem}.zip"]
        for name in names:
            if (base / name).exists():
                return base / name
    return None


def strokes_to_uint8(strokes):
    """Float stroke intensity in [0, 1], (N, H, W) -> uint8 (N, 28, 28, 1) by area averaging."""
    out = np.empty((len(strokes), SIZE, SIZE, 1), np.uint8)
    for i, s in enumerate(strokes):
        small = Image.fromarray(s.astype(np.float32), mode="F").resize((SIZE, SIZE), Image.Resampling.BOX)
        out[i, ..., 0] = np.clip(np.rint(np.asarray(small) * 255), 0, 255)
    return out


def _read_npz(path):
    with np.load(path) as z:
        images = z["images"]
    if images.ndim != 4:
        raise UserError(f"{path}: expected images of shape (characters, drawers, H, W), got {images.shape}")
    chars, drawers = images.shape[:2]
    strokes = ~images.reshape(chars * drawers, *images.shape[2:]).astype(bool)  # True = background
    labels = np.repeat(np.arange(chars), drawers)
    names = [f"{path.stem}/{i}" for i in range(chars)]
    return Data(strokes_to_uint8(strokes), labels.astype(np.int64), names)


def _read_png_tree(path):
    """`<Alphabet>/characterNN/*.png` in a folder or a zip file; classes in sorted order."""
    if path.suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist() if n.lower().endswith(".png")]
        opener = lambda name: io.BytesIO(archive.read(name))  # noqa: E731
    else:
        members = [str(p.relative_to(path)) for p in path.rglob("*.png")]
        opener = lambda name: path / name  # noqa: E731
    members.sort()
    if not members:
        raise UserError(f"{path} holds no PNG files; expected {EXPECTED}")
    classes = sorted({tuple(Path(m).parts[-3:-1]) for m in members})
    index = {c: i for i, c in enumerate(classes)}
    strokes = [1.0 - np.asarray(open_image(opener(m), f"{path}:{m}").convert("L"), np.float32) / 255
               for m in members]
    labels = [index[tuple(Path(m).parts[-3:-1])] for m in members]
    return Data(strokes_to_uint8(np.stack(strokes)), np.asarray(labels, np.int64),
                ["/".join(c) for c in classes])


def _read_dagan_npy(path):
    array = np.load(path)
    if array.ndim != 5:
        raise UserError(f"{path}: expected DAGAN's (classes, samples, 28, 28, 1) array, got {array.shape}")
    classes, samples = array.shape[:2]
    x = array.reshape(classes * samples, *array.shape[2:4]).astype(np.float32)
    x = x / max(float(x.max()), 1e-8)
    if x.mean() > 0.5:          # the majority of pixels is background: make the strokes bright
        x = 1.0 - x
    images = x if x.shape[1:] == (SIZE, SIZE) else None
    out = (np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)[..., None] if images is not None
           else strokes_to_uint8(x))
    return Data(out, np.repeat(np.arange(classes), samples).astype(np.int64),
                [str(i) for i in range(classes)])


def _read_one(path):
    try:
        if path.suffix == ".npz":
            return _read_npz(path)
        if path.suffix == ".npy":
            return _read_dagan_npy(path)
        return _read_png_tree(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise UserError(f"cannot read Omniglot from {path}: {e}") from None


def read(source, split):
    data = _read_one(source)
    if split == "all" and source.name.startswith("images_background"):
        other = source.with_name(source.name.replace("background", "evaluation"))
        if not other.exists():
            raise UserError(f"{other} is missing: split 'all' needs both images_background and "
                            "images_evaluation")
        more = _read_one(other)
        data = Data(np.concatenate([data.images, more.images]),
                    np.concatenate([data.labels, more.labels + len(data.class_names)]),
                    data.class_names + more.class_names)
    return data


def download(split):
    if offline() or split not in ("all", "background", "evaluation"):
        raise missing("Omniglot", EXPECTED)
    try:
        import tensorflow_datasets as tfds
        parts = {"background": ["train"], "evaluation": ["test"], "all": ["train", "test"]}[split]
        strokes, labels, offset = [], [], 0
        for part in parts:
            ds = tfds.as_numpy(tfds.load("omniglot", split=part, as_supervised=True))
            pairs = [(1.0 - img[..., 0].astype(np.float32) / 255, lab) for img, lab in ds]
            strokes += [p[0] for p in pairs]
            part_labels = np.array([p[1] for p in pairs])
            labels += list(part_labels + offset)
            offset += int(part_labels.max()) + 1
    except Exception as e:  # any network failure: say what to put where
        raise missing("Omniglot", f"{EXPECTED} (download failed: {type(e).__name__})") from None
    return Data(strokes_to_uint8(np.stack(strokes)), np.asarray(labels, np.int64),
                [str(i) for i in range(offset)])
