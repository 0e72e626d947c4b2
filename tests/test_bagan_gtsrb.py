"""BAGAN on GTSRB with its natural imbalance (issue #20): the dataset's quick settings, and
train + evaluate end to end on a tiny GTSRB in the Kaggle layout (no real data needed)."""
import json

import numpy as np
import pytest
from PIL import Image

from bagan import evaluate
from bagan import run as bagan_run
from bagan import train as bagan_train
from bagan.profiles import DATASET_PROFILES, PROFILES
from common import cli

COUNTS = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 24]      # 12 classes: the 10 rarest are 0..9
SIZE = 16
FAST = ["--profile", "smoke", "--batch-size", "8", "--width", "0.125", "--image-size", str(SIZE), "--quiet"]


@pytest.fixture(scope="module")
def gtsrb_root(tmp_path_factory):
    """<root>/gtsrb/Train.csv + Test.csv and their PNGs: class c is a square at a place of its own."""
    root = tmp_path_factory.mktemp("gtsrb_data")
    rng = np.random.default_rng(0)
    for split, counts in (("Train", COUNTS), ("Test", [4] * len(COUNTS))):
        rows = ["Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path"]
        for c, n in enumerate(counts):
            for j in range(n):
                img = rng.integers(0, 80, (SIZE, SIZE, 3), dtype=np.uint8)
                r, q = divmod(c, 4)
                img[2 + 4 * r:6 + 4 * r, 2 + 3 * q:5 + 3 * q] = (255, 40 * (c % 6), 0)
                path = f"{split}/{c}/{j:03d}.png"
                (root / "gtsrb" / split / str(c)).mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(root / "gtsrb" / path)
                rows.append(f"{SIZE},{SIZE},0,0,{SIZE - 1},{SIZE - 1},{c},{path}")
        (root / "gtsrb" / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def gtsrb_run(gtsrb_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("bagan_gtsrb_out")
    return bagan_train.main(["-D", "GTSRB", "--keep-imbalance", "-e", "1", "--ae-epochs", "1",
                             "--data-dir", str(gtsrb_root), "--out", str(out), *FAST])


def _config(argv):
    return cli.resolve(bagan_run.parser().parse_args(argv), PROFILES, by_dataset=DATASET_PROFILES)


def test_gtsrb_changes_the_quick_profile_and_flags_still_win():
    gtsrb = DATASET_PROFILES["GTSRB"]["quick"]
    for name in ("GTSRB", "gtsrb"):
        config = _config(["-D", name, "--keep-imbalance", "--profile", "quick"])
        assert all(config[k] == v for k, v in gtsrb.items())
        # MNIST's balanced real batches and lr are kept; D warms up first and no mode-seeking term
        assert (config["real_sampling"], config["lr"]) == ("balanced", 5e-5)
        assert (config["d_warmup"], config["ms_lambda"]) == (600, 0.0)
    assert _config(["--profile", "quick"])["ms_lambda"] == 1.0                           # MNIST keeps it
    assert _config(["-D", "GTSRB", "--profile", "quick", "-e", "2"])["epochs"] == 2
    assert _config(["--profile", "quick"])["epochs"] == PROFILES["quick"]["epochs"]      # MNIST
    assert _config(["-D", "GTSRB", "--profile", "smoke"])["epochs"] == PROFILES["smoke"]["epochs"]


def test_claims_name_the_options_that_differ_from_the_profile():
    """A run with options other than its profile's names them in every claim (so its scoreboard rows
    stand beside the profile's); the profile's own run names none; a run made before d_warmup existed
    counts as d_warmup 0, which GTSRB's quick profile does not have."""
    base = ["-D", "GTSRB", "--keep-imbalance", "--profile", "quick"]
    assert evaluate.options_suffix(_config(base)) == ""
    config = _config([*base, "--d-warmup", "300", "--ms-lambda", "1"])
    assert evaluate.options_suffix(config) == " (D warm-up 300 steps; mode-seeking lambda 1)"
    assert evaluate.options_suffix(_config([*base, "--d-lr-scale", "4"])) == " (D's learning rate x4)"
    assert evaluate.options_suffix(_config([*base, "--trunk", "reference"])) == " (reference trunk for E and D)"
    old = {k: v for k, v in _config(["--profile", "quick"]).items() if k != "d_warmup"}
    assert evaluate.options_suffix(old) == ""                                            # MNIST: 0 is its profile's
    old_gtsrb = {k: v for k, v in _config([*base, "--ms-lambda", "1"]).items() if k != "d_warmup"}
    assert evaluate.options_suffix(old_gtsrb) == " (no D warm-up; mode-seeking lambda 1)"


def test_help_shows_the_gtsrb_values(capsys):
    with pytest.raises(SystemExit):
        bagan_train.main(["--profile", "quick", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"GTSRB: {DATASET_PROFILES['GTSRB']['quick']['epochs']}" in out


def test_d_verdict_is_its_most_probable_real_class():
    """D's softmax has K + 1 columns (K = fake): its verdict leaves the fake column out."""
    from bagan.sampling import real_class
    probs = np.array([[0.1, 0.2, 0.7],       # fake most probable: still class 1
                      [0.5, 0.3, 0.2],
                      [0.05, 0.05, 0.9]])    # tie of the real classes: the first
    assert real_class(probs, 2).tolist() == [1, 0, 0]


def test_rarest_classes_are_the_smallest_first():
    labels = np.repeat(np.arange(12), COUNTS[::-1])
    assert evaluate.rarest_classes(labels, 12).tolist() == list(range(11, 1, -1))


def test_evaluate_on_gtsrb_writes_per_class_scores_classifiers_and_the_grid(gtsrb_run, monkeypatch):
    from common.metrics import classifier
    monkeypatch.setitem(classifier.EPOCHS, "gtsrb", 2)           # seconds, not GTSRB's real 80 epochs
    metrics = evaluate.main([str(gtsrb_run), "--profile", "smoke"])
    k = len(COUNTS)
    assert sorted(metrics["per_class"], key=int) == [str(c) for c in range(k)]
    for row in metrics["per_class"].values():
        assert 0 <= row["generated_accuracy"] <= 1
        assert -1 <= row["ssim_generated_pairs"] <= 1 and -1 <= row["ssim_real_pairs"] <= 1
        assert 0 <= row["d_accuracy_generated"] <= 1 and 0 <= row["d_accuracy_real_test"] <= 1
    for key in ("mean_generated_accuracy", "mean_ssim_generated_pairs", "mean_ssim_real_pairs",
                "mean_d_accuracy_generated", "mean_d_accuracy_real_test"):
        assert np.isfinite(metrics[key])
    assert 0 <= metrics["reference_classifier_test_accuracy"] <= 1
    clf = metrics["classifiers"]["all"]
    assert clf["plain"]["train_images"] == sum(COUNTS)
    assert clf["mirror"]["train_images"] == clf["bagan"]["train_images"] == clf["copies"]["train_images"] \
        == k * max(COUNTS)   # all filled
    scores = ("overall_accuracy", "minority_accuracy", "mean_class_accuracy")
    assert all(0 <= clf[name][score] <= 1 for name in clf for score in scores)
    assert (gtsrb_run / "rarest_classes.png").exists()
    written = json.loads((gtsrb_run / "metrics.json").read_text())
    assert written["mean_ssim_real_pairs"] == metrics["mean_ssim_real_pairs"]
    rows = {r["metric"]: r for r in json.loads((gtsrb_run / "headline.json").read_text())}
    diff = rows["test accuracy, BAGAN-rebalanced minus plain, gtsrb"]
    assert diff["target"] == ">= 0"
    assert diff["value"] == pytest.approx(clf["bagan"]["overall_accuracy"] - clf["plain"]["overall_accuracy"])
    assert rows["test accuracy, plain, gtsrb"]["paper_value"] == 0.963
    assert rows["generated-image accuracy by a reference CNN, gtsrb"]["target"] == ">= 0.90"
    assert rows["SSIM of real pairs, gtsrb"]["paper_value"] == 0.082
    assert rows["D's class accuracy on held-out real images, gtsrb"]["value"] == metrics["mean_d_accuracy_real_test"]

    # the reference classifier is cached: a second evaluation trains no classifier at all
    def no_training(*args, **kwargs):
        raise AssertionError("the reference classifier was trained again")
    monkeypatch.setattr(classifier, "train_classifier", no_training)
    again = evaluate.main([str(gtsrb_run), "--profile", "smoke", "--skip-classifiers"])
    assert again["reference_classifier_test_accuracy"] == metrics["reference_classifier_test_accuracy"]
