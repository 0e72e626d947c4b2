"""The augment commands (bagan, dagan, cgan_infogan) on tiny class folders made here: counts per
class, the manifest, reuse of a run, and one-line errors (exit status 2) for bad input."""
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from common import augment as common_augment
from common import cli

RGB = {"cat": 5, "dog": 3, "fox": 4}        # 16x16 RGB, a largest class of 5
GREY = {"a": 4, "b": 2}                     # 28x28 grey


def make_folder(root, counts, side, rgb):
    rng = np.random.default_rng(0)
    for i, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for j in range(n):
            img = rng.integers(0, 60, (side, side, 3) if rgb else (side, side), dtype=np.uint8)
            img[2 + 3 * i:5 + 3 * i, 2:side - 2] = 255          # a bar whose row depends on the class
            Image.fromarray(img).save(root / name / f"{j:02d}.png")
    return root


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    os.environ["GAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    return make_folder(tmp_path_factory.mktemp("rgb") / "animals", RGB, 16, True)


@pytest.fixture(scope="module")
def grey(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("grey") / "letters", GREY, 28, False)


def read(out):
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert all((out / p).is_file() for p in manifest.path)
    return manifest


def per_class(manifest, synthetic):
    return manifest[manifest.synthetic == synthetic].groupby("class").size().to_dict()


def check_exit_2(main, argv, capsys, words):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err


# -------------------------------------------------------------------------------- shared pieces
def test_plan_and_image_size():
    labels = np.array([0, 0, 0, 1, 2, 2])
    assert common_augment.plan(labels, 3, balance=True).tolist() == [0, 2, 1]
    assert common_augment.plan(labels, 3, per_class=4).tolist() == [4, 4, 4]
    assert cli.image_size("32") == [32, 32] and cli.image_size("24x40") == [24, 40]


# -------------------------------------------------------------------------------- BAGAN
BAGAN_FAST = ["--", "-e", "1", "--ae-epochs", "1", "--batch-size", "4", "--width", "0.125", "--quiet"]


@pytest.fixture(scope="module")
def bagan_out(rgb, tmp_path_factory):
    from bagan import augment
    tmp = tmp_path_factory.mktemp("bagan_aug")
    out = augment.main(["--data", str(rgb), "--output", str(tmp / "balanced"), "--profile", "smoke",
                        "--out", str(tmp / "runs"), *BAGAN_FAST])
    return out, next((tmp / "runs").iterdir())


def test_bagan_balances_a_folder(bagan_out):
    out, _ = bagan_out
    manifest = read(out)
    assert per_class(manifest, 0) == RGB and per_class(manifest, 1) == {"dog": 2, "fox": 1}
    fake = manifest[manifest.synthetic == 1]
    assert set(fake.method) == {"bagan"} and set(fake.seed.astype(int)) == {0} and "source" not in manifest
    assert Image.open(out / fake.path.iloc[0]).size == (16, 16)
    assert not out.with_name(out.name + ".partial").exists()


def test_bagan_reuses_a_run_per_class(bagan_out, rgb, tmp_path):
    from bagan import augment
    _, run = bagan_out
    out = augment.main(["--data", str(rgb), "--run", str(run), "--output", str(tmp_path / "more"),
                        "--per-class", "3", "--seed", "5"])
    manifest = read(out)
    assert per_class(manifest, 1) == {"cat": 3, "dog": 3, "fox": 3} and set(manifest[manifest.synthetic == 1].seed.astype(int)) == {5}


def test_bad_input_is_one_line_and_exit_2(rgb, grey, tmp_path, capsys):
    from bagan import augment
    one = make_folder(tmp_path / "one", {"only": 2}, 16, True)
    check_exit_2(augment.main, ["--data", str(tmp_path / "nope"), "--output", str(tmp_path / "o")], capsys,
                 ["no such folder"])
    check_exit_2(augment.main, ["--data", str(one), "--output", str(tmp_path / "o")], capsys, ["2 or more"])
    check_exit_2(augment.main, ["--data", str(rgb), "--output", str(tmp_path / "o"), "--per-class", "0"], capsys,
                 ["--per-class"])
    check_exit_2(augment.main, ["--data", str(rgb), "--output", str(tmp_path / "o"), "--image-size", "36"], capsys,
                 ["r*2^n", "--image-size"])
    check_exit_2(augment.main, ["--data", str(rgb), "--output", str(tmp_path / "o"), "--image-size", "16x32"],
                 capsys, ["square"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    check_exit_2(augment.main, ["--data", str(rgb), "--output", str(tmp_path / "mine"), "--overwrite"], capsys,
                 ["no augment command wrote"])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


# -------------------------------------------------------------------------------- DAGAN
@pytest.fixture(scope="module")
def dagan_out(rgb, tmp_path_factory):
    from dagan import augment
    tmp = tmp_path_factory.mktemp("dagan_aug")
    out = augment.main(["--data", str(rgb), "--output", str(tmp / "aug"), "--per-class", "4", "--profile", "smoke",
                        "--out", str(tmp / "runs")])
    return out, next((tmp / "runs").iterdir())


def test_dagan_spreads_generations_over_each_class_sources(dagan_out):
    out, run = dagan_out
    manifest = read(out)
    assert per_class(manifest, 0) == RGB and per_class(manifest, 1) == {"cat": 4, "dog": 4, "fox": 4}
    fake = manifest[manifest.synthetic == 1]
    assert set(fake.method) == {"dagan"} and set(fake.run) == {str(run)}
    real = manifest[manifest.synthetic == 0].set_index("path")["class"]
    assert all(real[s] == c for s, c in zip(fake.source, fake["class"]))     # a source of its own class
    dog = fake[fake["class"] == "dog"].source.tolist()
    assert len(set(dog)) == 3 and dog[0] == dog[3]                         # 4 over 3 sources: i % 3
    assert set(manifest[manifest.synthetic == 0].source) == {""}
    assert Image.open(out / fake.path.iloc[0]).mode == "RGB"


def test_dagan_grey_folder_and_run_reuse(dagan_out, rgb, grey, tmp_path, capsys):
    from dagan import augment
    _, run = dagan_out
    out = augment.main(["--data", str(grey), "--output", str(tmp_path / "g"), "--balance", "--profile", "smoke",
                        "--out", str(tmp_path / "runs")])
    manifest = read(out)
    assert per_class(manifest, 1) == {"b": 2} and Image.open(out / manifest.path.iloc[-1]).size == (28, 28)
    check_exit_2(augment.main, ["--data", str(grey), "--run", str(run), "--output", str(tmp_path / "x"),
                                "--per-class", "1"], capsys, ["--image-size 16x16"])
    check_exit_2(augment.main, ["--data", str(rgb), "--output", str(tmp_path / "x")], capsys, ["--per-class N or --balance"])
    out = augment.main(["--data", str(rgb), "--run", str(run), "--output", str(tmp_path / "g"), "--overwrite",
                        "--per-class", "1"])
    assert per_class(read(out), 1) == {"cat": 1, "dog": 1, "fox": 1}


# -------------------------------------------------------------------------------- CGAN / InfoGAN
CGAN_FAST = ["--profile", "smoke", "--", "--batch-size", "4"]


@pytest.mark.parametrize("model", ["cgan", "infogan"])
def test_cgan_infogan_augment_rgb_and_grey_folders(model, rgb, grey, tmp_path, capsys):
    from cgan_infogan import augment
    out = augment.main(["--data", str(rgb), "--model", model, "--output", str(tmp_path / "rgb"), "--per-class", "2",
                        "--out", str(tmp_path / "runs"), *CGAN_FAST])
    manifest = read(out)
    assert per_class(manifest, 0) == RGB and per_class(manifest, 1) == {"cat": 2, "dog": 2, "fox": 2}
    assert set(manifest[manifest.synthetic == 1].method) == {model}
    assert Image.open(out / manifest.path.iloc[-1]).mode == "RGB"
    run = tmp_path / "runs" / "animals_smoke"
    assert (run / model / "state.json").exists()
    out = augment.main(["--data", str(grey), "--model", model, "--output", str(tmp_path / "grey"), "--balance",
                        "--image-size", "20x24", "--out", str(tmp_path / "runs"), *CGAN_FAST])
    manifest = read(out)
    assert per_class(manifest, 1) == {"b": 2}
    assert Image.open(out / manifest.path.iloc[-1]).size == (24, 20)
    check_exit_2(augment.main, ["--data", str(grey), "--run", str(run), "--model", model, "--output",
                                str(tmp_path / "x"), "--balance"], capsys, ["trained on classes"])


# -------------------------------------------------------------------------------- de-biasing on a user's folder
def user_attribute_folder(root):
    """CelebA's fake layout (tests/test_debias_fixtures.py) turned into a user's folder: the images and
    list_attr_celeba.txt side by side, no img_align_celeba/, no partition file."""
    import shutil
    from test_debias_fixtures import fake_celeba
    celeba = fake_celeba(root / "src") / "celeba"
    folder = root / "faces"
    shutil.copytree(celeba / "img_align_celeba", folder)
    shutil.copy(celeba / "list_attr_celeba.txt", folder)
    return folder


def test_celeba_format_user_folder_splits_80_10_10(tmp_path):
    from common import datasets
    folder = user_attribute_folder(tmp_path)
    sizes = {s: len(datasets.load("celeba", s, folder, size=16)) for s in ("train", "val", "test", "all")}
    assert sizes == {"train": 58, "val": 7, "test": 7, "all": 72}
    data = datasets.load("celeba", "val", folder, size=16)
    assert data.images.shape == (7, 16, 16, 3) and data.attributes.shape == (7, 40)


def test_debias_pipeline_on_a_user_folder(tmp_path):
    from debias import pipeline
    from test_debias_fixtures import tiny_generator
    folder = user_attribute_folder(tmp_path)
    exp = pipeline.main(["--profile", "smoke", "--data-dir", str(folder), "--out", str(tmp_path / "debias"),
                         "--generator", str(tiny_generator(tmp_path / "gen.keras"))])
    assert (exp / "metrics.json").exists()


def test_flag_mistakes_are_one_line(rgb, tmp_path, capsys):
    from cgan_infogan import augment as cgan_augment
    from dagan import augment as dagan_augment
    check_exit_2(dagan_augment.main, ["--data", "gtsrb", "--output", str(tmp_path / "o"), "--balance"], capsys,
                 ["folder of class folders, not gtsrb"])
    check_exit_2(cgan_augment.main, ["--data", "cifar10", "--output", str(tmp_path / "o"), "--balance"], capsys,
                 ["or mnist, not cifar10"])
    check_exit_2(dagan_augment.main, [str(rgb), "--output", str(tmp_path / "o"), "--balance"], capsys,
                 ["go after --"])
    check_exit_2(dagan_augment.main, ["--data", str(rgb), "--output", str(tmp_path / "o"), "--balance",
                                      "--per-class", "2"], capsys, ["not allowed with"])
    assert not (tmp_path / "o").exists()


def test_mnist_protocol_commands_refuse_a_folder_run(tmp_path, capsys):
    from cgan_infogan import evaluate, generate
    run = tmp_path / "animals_smoke"
    run.mkdir()
    (run / "config.json").write_text('{"config": {"dataset": "animals", "num_classes": 3}}')
    check_exit_2(generate.main, [str(run), "--model", "cgan", "--num", "10", "--output", str(tmp_path / "s.npz")], capsys, ["cgan_infogan.augment"])
    check_exit_2(evaluate.main, [str(run), "--profile", "smoke"], capsys, ["not MNIST"])


def test_write_npz_and_no_partial_left_on_failure(tmp_path):
    from common.datasets import Data
    data = Data(np.zeros((3, 8, 8, 1), np.uint8), np.array([0, 0, 1]), ["x", "y"])
    fake = np.full((2, 8, 8, 1), 255, np.uint8)
    out = common_augment.write(tmp_path / "aug.npz", data, fake, [1, 1], "m", "run", 3)
    with np.load(out) as z:
        assert z["images"].shape == (5, 8, 8, 1) and z["synthetic"].tolist() == [False] * 3 + [True] * 2
    manifest = pd.read_csv(tmp_path / "aug_manifest.csv")
    assert manifest.path.tolist()[-1] == "images[4]" and manifest.synthetic.sum() == 2
    with pytest.raises(IndexError):     # a bad source index, found after the images are written
        common_augment.write(tmp_path / "broken", data, fake, [1, 1], "m", "run", 3, sources=[0, 7])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aug.npz", "aug_manifest.csv"]
