"""The images BEGAN trains and is evaluated on: CelebA or a folder of images."""
from pathlib import Path

from common import datasets
from common.errors import UserError


def image_files(folder):
    from common.datasets.base import IMAGE_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_images(config, data_dir, split="train"):
    """uint8 NHWC images: CelebA (cropped to 108 and resized, as carpedm20) or a folder. The folder
    is read by the class-folder loader when it has sub-folders, else as one flat set of images."""
    size = config["image_size"]
    if config["dataset"] == "celeba":
        return datasets.load("celeba", split, data_dir, size=size).images
    folder = Path(config["dataset"]).expanduser()
    if not folder.is_dir():
        raise UserError(f"--dataset {folder}: not 'celeba' and not a folder of images")
    files = image_files(folder)
    if not files:
        raise UserError(f"--dataset {folder}: the folder holds no image files; put .png/.jpg images in it")
    if any(p.is_dir() for p in folder.iterdir()):
        return datasets.load(str(folder), size=size, channels=3).images
    from common.datasets.base import decode_all
    return decode_all(files, size=size, channels=3)
