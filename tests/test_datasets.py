"""Each loader on small files written here in that exact on-disk format, and on ../shared/data."""
import gzip
import io
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from common import datasets
from common.datasets import mnist
from common.errors import UserError

rng = np.random.default_rng(0)


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_npz_and_idx_agree(tmp_path):
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = np.array([3, 1, 4, 1, 5], np.uint8)
    (tmp_path / "a" / "mnist").mkdir(parents=True)
    np.savez(tmp_path / "a" / "mnist" / "mnist.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    (tmp_path / "b").mkdir()
    write_idx(tmp_path / "b" / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "b" / "train-labels-idx1-ubyte.gz", y)
    a = datasets.load("mnist", "train", tmp_path / "a")
    b = datasets.load("mnist", "train", tmp_path / "b")
    assert a.images.shape == (5, 28, 28, 1) and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(b.labels, [3, 1, 4, 1, 5])
    assert len(datasets.load("MNIST", "test", tmp_path / "a")) == 2


def test_cifar10_batches(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    pixels = rng.integers(0, 256, (6, 3072), dtype=np.uint8)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": pixels, b"labels": [0, 1, 2, 3, 4, 9]}, f)
    data = datasets.load("cifar10", "train", tmp_path)
    assert data.images.shape == (30, 32, 32, 3)
    # channels-first rows: the first 1024 bytes are the red plane
    np.testing.assert_array_equal(data.images[0, 0, :, 0], pixels[0, :32])
    assert data.class_names[9] == "truck"


def _glyph(stroke_rows):
    """105x105 bool image, True = background, with horizontal strokes on the given rows."""
    image = np.ones((105, 105), bool)
    image[stroke_rows] = False
    return image


def test_omniglot_layouts_share_one_polarity(tmp_path):
    root = tmp_path / "omniglot"
    root.mkdir()
    images = np.stack([np.stack([_glyph(slice(40 + 8 * c, 52 + 8 * c))] * 2) for c in range(3)])
    np.savez(root / "images_background.npz", images=images, labels=np.zeros((3, 2), np.int64))
    np.savez(root / "images_evaluation.npz", images=images[:1], labels=np.zeros((1, 2), np.int64))
    png_root = tmp_path / "png" / "images_background"
    with zipfile.ZipFile(tmp_path / "bg.zip", "w") as z:
        for c in range(3):
            for d in range(2):
                folder = png_root / "Alpha" / f"character{c + 1:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                buf = io.BytesIO()
                Image.fromarray(images[c, d].astype(np.uint8) * 255).save(buf, format="PNG")
                (folder / f"{c}_{d}.png").write_bytes(buf.getvalue())
                z.writestr(f"images_background/Alpha/character{c + 1:02d}/{c}_{d}.png", buf.getvalue())
    (tmp_path / "zip").mkdir()
    (tmp_path / "bg.zip").rename(tmp_path / "zip" / "images_background.zip")

    npz = datasets.load("omniglot", "background", tmp_path)
    png = datasets.load("omniglot", "background", tmp_path / "png")
    zipped = datasets.load("omniglot", "background", tmp_path / "zip")
    both = datasets.load("omniglot", "all", tmp_path)
    assert npz.images.shape == (6, 28, 28, 1)
    assert npz.images.mean() < 128 and npz.images.max() == 255      # bright strokes on dark
    np.testing.assert_array_equal(npz.images, png.images)
    np.testing.assert_array_equal(png.images, zipped.images)
    np.testing.assert_array_equal(png.labels, [0, 0, 1, 1, 2, 2])
    assert both.labels.max() == 3 and len(both.class_names) == 4

    # DAGAN's npy: (classes, samples, 28, 28, 1) in [0, 1] with a bright background
    dagan = 1.0 - npz.images.reshape(3, 2, 28, 28, 1) / 255.0
    np.save(tmp_path / "zip" / "omniglot_data.npy", dagan)
    from_npy = datasets.load("omniglot", "all", tmp_path / "zip")
    assert np.abs(from_npy.images.astype(int) - npz.images).max() <= 1


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_gtsrb_kaggle_and_official_layouts_with_roi(tmp_path):
    sign = np.zeros((40, 50, 3), np.uint8)
    sign[5:35, 10:40] = 200                         # region of interest, X 10..39, Y 5..34
    kaggle = tmp_path / "k" / "gtsrb"
    _png(kaggle / "Train" / "7" / "a.png", sign)
    (kaggle / "Train.csv").write_text("Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n"
                                      "50,40,10,5,39,34,7,Train/7/a.png\n")
    official = tmp_path / "o" / "Final_Training" / "Images" / "00007"
    official.mkdir(parents=True)
    Image.fromarray(sign).save(official / "00000_00000.ppm")
    (official / "GT-00007.csv").write_text("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
                                           "00000_00000.ppm;50;40;10;5;39;34;7\n")
    a = datasets.load("gtsrb", "train", tmp_path / "k", size=16, roi=True)
    b = datasets.load("gtsrb", "train", tmp_path / "o", size=16, roi=True)
    full = datasets.load("gtsrb", "train", tmp_path / "k", size=16)
    assert a.images.shape == (1, 16, 16, 3) and a.labels.tolist() == [7]
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.min() == 200                    # the crop holds only the sign
    assert full.images.min() == 0


def test_celeba_layout(tmp_path):
    root = tmp_path / "celeba"
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    for i, name in enumerate(names):
        _png(root / "img_align_celeba" / name, np.full((218, 178, 3), 60 * i, np.uint8))
    (root / "list_attr_celeba.txt").write_text(
        "3\nSmiling Male\n000001.jpg  1 -1\n000002.jpg -1  1\n000003.jpg  1  1\n")
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n")
    (root / "identity_CelebA.txt").write_text("000001.jpg 10\n000002.jpg 7\n000003.jpg 10\n")
    train = datasets.load("celeba", "train", tmp_path, size=32)
    assert train.images.shape == (2, 32, 32, 3)
    assert train.attribute_names == ["Smiling", "Male"]
    np.testing.assert_array_equal(train.attributes, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(train.labels, [1, 0])          # identities 10, 7 -> sorted index
    assert datasets.load("celeba", "test", tmp_path, size=32).images[0].mean() == pytest.approx(120, abs=1)


def test_image_folder_and_its_errors(tmp_path):
    for c, name in enumerate(["cats", "dogs"]):
        for i in range(3):
            _png(tmp_path / "pets" / name / f"{i}.png", np.full((10, 12, 3), 40 * c, np.uint8))
    data = datasets.load(str(tmp_path / "pets"), "train", size=8)
    assert data.images.shape == (6, 8, 8, 3) and data.class_names == ["cats", "dogs"]
    np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1, 1])
    (tmp_path / "flat").mkdir()
    _png(tmp_path / "flat" / "x.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(UserError, match="no class sub-folders"):
        datasets.load(str(tmp_path / "flat"))
    (tmp_path / "pets" / "dogs" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image .*broken.png"):
        datasets.load(str(tmp_path / "pets"), size=8)


def test_cache_is_used_on_the_second_load(tmp_path, monkeypatch):
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8),
             y_train=np.zeros(2, np.uint8), x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1))
    datasets.load("mnist", "train", tmp_path)
    monkeypatch.setattr(mnist, "read", lambda *a, **k: pytest.fail("decoded again"))
    assert len(datasets.load("mnist", "train", tmp_path)) == 2


def test_missing_files_name_the_layout(tmp_path):
    with pytest.raises(UserError, match="mnist.npz"):
        datasets.load("mnist", "train", tmp_path)
    with pytest.raises(UserError, match="Train.csv"):
        datasets.load("gtsrb", "train", tmp_path)
    with pytest.raises(UserError, match="no split"):
        datasets.load("mnist", "validation", tmp_path)


def run(*args):
    return subprocess.run([sys.executable, "-m", "common.datasets", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["mnist", "--data-dir", "/no/such/dir"], "does not exist"),
    (["imagenet", "--data-dir", "."], "unknown dataset"),
    (["mnist", "--image-size", "0"], "out of range"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_corrupt_image_is_one_line_and_exit_2(tmp_path):
    _png(tmp_path / "a" / "ok.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "a" / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    result = run(str(tmp_path))
    assert result.returncode == 2 and "bad.jpg" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, split, options, shape, classes", [
    ("mnist", "test", {}, (10000, 28, 28, 1), 10),
    ("omniglot", "evaluation", {}, (659 * 20, 28, 28, 1), 659),
    ("gtsrb", "train", {"size": 32}, (3921, 32, 32, 3), 43),
    ("celeba", "val", {"size": 64}, (780, 64, 64, 3), None),
])
def test_real_datasets(data_root, name, split, options, shape, classes):
    data = datasets.load(name, split, data_root, **options)
    assert data.images.shape == shape and data.images.dtype == np.uint8
    if classes:
        assert len(np.unique(data.labels)) == classes
    if name == "celeba":
        assert data.attributes.shape == (780, 40) and set(np.unique(data.attributes)) <= {0, 1}
    if name == "omniglot":
        assert data.images.mean() < 64          # strokes bright on a dark background
