"""Classifier scores on a tiny two-class problem, and the reference classifier's cache."""
import json

import numpy as np
import pytest
from PIL import Image

from common.errors import UserError
from common.metrics import classifier


def _halves(n, seed):
    """Class 0 = bright left half, class 1 = bright right half, plus noise (12x12 grey)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 60, (n, 12, 12, 1))
    for i, y in enumerate(labels):
        images[i, :, 6 * y:6 * y + 6] += 180
    return images.astype(np.uint8), labels


@pytest.fixture(scope="module")
def trained():
    x, y = _halves(96, 0)
    return classifier.train_classifier(x, y, 2, epochs=4, batch_size=16, verbose=0)


def test_generated_accuracy_counts_the_requested_class(trained):
    x, y = _halves(40, 1)
    assert classifier.generated_accuracy(trained, x, y) == 1.0
    assert classifier.generated_accuracy(trained, x, 1 - y) == 0.0
    with pytest.raises(UserError, match="shape"):
        classifier.generated_accuracy(trained, x[:, :10, :10], y)


def test_classification_accuracy_score_trains_on_one_set_and_tests_on_another():
    x, y = _halves(96, 2)
    tx, ty = _halves(40, 3)
    assert classifier.classification_accuracy_score(x, y, tx, ty, epochs=4, batch_size=16) >= 0.95
    with pytest.raises(UserError, match="one integer label per image"):
        classifier.classification_accuracy_score(x, y[:-1], tx, ty)


def test_reference_classifier_is_trained_once_and_cached(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAN_CACHE_DIR", str(tmp_path / "cache"))
    x, y = _halves(60, 4)
    for i, (image, label) in enumerate(zip(x, y)):
        folder = tmp_path / "halves" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(folder / f"{i}.png")
    model = classifier.reference_classifier(str(tmp_path / "halves"), tmp_path, epochs=1)
    out = capsys.readouterr().out      # not a terminal: a line per epoch, no progress bar
    assert "training once on 54 images for 1 epochs" in out and " - loss: " in out and "\r" not in out
    (info_file,) = (tmp_path / "cache" / "classifiers").glob("halves-*.json")
    info = json.loads(info_file.read_text())
    assert info["n_train"] == 54 and info["n_test"] == 6 and 0 <= info["test_accuracy"] <= 1
    assert info_file.with_suffix(".keras").is_file()
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    again = classifier.reference_classifier(str(tmp_path / "halves"), tmp_path, epochs=1, verbose=0)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
