"""The `Data` record every loader returns, and image decoding shared by the loaders."""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class Data:
    images: np.ndarray                      # uint8 (N, H, W, C)
    labels: np.ndarray                      # int64 (N,)
    class_names: list = field(default_factory=list)
    attributes: np.ndarray = None           # uint8 (N, A) in {0, 1} (CelebA)
    attribute_names: list = None

    def __len__(self):
        return len(self.images)

    def check(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise ValueError(f"images are {self.images.dtype} {self.images.shape}, expected uint8 "
                             "(N, H, W) or (N, H, W, 1 or 3)")
        if self.labels.ndim != 1 or len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but labels of shape {self.labels.shape}")

    def subset(self, index):
        attrs = None if self.attributes is None else self.attributes[index]
        return Data(self.images[index], self.labels[index], self.class_names, attrs,
                    self.attribute_names)

    def to_npz(self, path):
        extra = {}
        if self.attributes is not None:
            extra = {"attributes": self.attributes, "attribute_names": np.array(self.attribute_names)}
        with open(path, "wb") as f:
            np.savez(f, images=self.images, labels=self.labels,
                     class_names=np.array(self.class_names, dtype=str), **extra)

    @classmethod
    def from_npz(cls, path):
        with np.load(path) as z:
            attrs = z["attributes"] if "attributes" in z else None
            names = list(z["attribute_names"]) if "attribute_names" in z else None
            return cls(z["images"], z["labels"].astype(np.int64), [str(c) for c in z["class_names"]],
                       attrs, names)


def missing(name, expected):
    """The offline error: what to put where."""
    return UserError(f"{name} not found and it cannot be downloaded here; expected {expected}")


def offline():
    return os.environ.get("GAN_OFFLINE", "") not in ("", "0")


def open_image(source, name=None):
    """Decode one image file (a path or a file object); a broken file is a one-line user error."""
    try:
        image = Image.open(source)
        image.load()
        return image
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise UserError(f"cannot read image {name or source}: {e}") from None


def to_array(image, size=None, channels=3, box=None, resample=Image.Resampling.BILINEAR):
    """PIL image -> uint8 (H, W, C): optional crop box (left, top, right, bottom), resize to size."""
    image = image.convert("RGB" if channels == 3 else "L")
    if box is not None:
        image = image.crop(box)
    if size is not None:
        h, w = (size, size) if np.isscalar(size) else size
        if image.size != (w, h):
            image = image.resize((w, h), resample)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def decode_all(paths, **kwargs):
    """Decode and resize many files in threads (PIL releases the GIL while decoding)."""
    def one(item):
        path, box = item if isinstance(item, tuple) else (item, None)
        return to_array(open_image(path), box=box, **kwargs)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        arrays = list(pool.map(one, paths))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise UserError(f"images differ in size ({', '.join(map(str, sorted(shapes)[:3]))}, ...); "
                        "pass a size to resize them to")
    return np.stack(arrays) if arrays else np.zeros((0, 1, 1, kwargs.get("channels", 3)), np.uint8)


def find(root, *names):
    """The first of `names` that exists under root, or None."""
    for name in names:
        if (Path(root) / name).exists():
            return Path(root) / name
    return None
