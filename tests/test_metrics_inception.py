"""The Keras TF-FID InceptionV3 against reference.npz, and its missing-weights error."""
import os
import subprocess
import sys

import numpy as np
import pytest

from common.errors import UserError
from common.metrics import fid, inception
from tests.conftest import ROOT, shared_data


@pytest.fixture(scope="module")
def fid_dir():
    root = shared_data()
    if root is None or not (root / "fid" / inception.WEIGHTS_FILE).is_file():
        pytest.skip("shared/data/fid not found: set GAN_DATA_DIR or put it in ../shared/data")
    return root / "fid"


def test_pool3_matches_the_tf_fid_reference(fid_dir):
    ref = np.load(fid_dir / "reference.npz")
    rows = [0, 13]  # one MNIST digit (grey tiled to RGB), one CelebA face
    images = ref["inputs_uint8"][rows]
    feats = inception.pool3(images, weights=fid_dir / inception.WEIGHTS_FILE, batch_size=2, verbose=0)
    assert feats.shape == (2, 2048) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, ref["pool3"][rows], atol=1e-4, rtol=0)


def test_grey_images_are_tiled_to_rgb():
    grey = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    for shaped in (grey, grey[..., None]):
        rgb = inception.as_rgb_float(shaped)
        assert rgb.shape == (2, 4, 4, 3) and rgb.dtype == np.float32
        np.testing.assert_array_equal(rgb[..., 2], grey)
    with pytest.raises(UserError, match="uint8"):
        inception.as_rgb_float(grey.astype(np.float32))
    with pytest.raises(UserError, match="shaped"):
        inception.as_rgb_float(np.zeros((2, 4, 4, 2), np.uint8))


def test_fid_kid_end_to_end_reuses_cached_real_statistics(fid_dir, monkeypatch):
    ref = np.load(fid_dir / "reference.npz")
    real, fake = ref["inputs_uint8"][:2], ref["inputs_uint8"][12:14]  # digits vs faces
    weights = fid_dir / inception.WEIGHTS_FILE
    result = fid.fid_kid(real, fake, weights=weights, verbose=0)
    assert (result["n_real"], result["n_fake"], result["kid_subsets"]) == (2, 2, 1)
    assert result["feature_network"] == inception.NAME and result["fid"] > 1
    # the real set's features now come from the npz cache, not from the network
    monkeypatch.setattr(inception, "pool3", lambda *a, **k: pytest.fail("real features not cached"))
    cached, mu, _ = fid.real_features(real, weights, verbose=0)
    assert cached.shape == (2, 2048) and np.allclose(mu, cached.mean(0))


def test_missing_weights_is_a_one_line_user_error(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_FID_WEIGHTS", raising=False)
    with pytest.raises(UserError) as e:
        inception.weights_path(data_dir=tmp_path)
    message = str(e.value)
    assert "\n" not in message and "GAN_FID_WEIGHTS" in message and str(tmp_path) in message
    monkeypatch.setenv("GAN_FID_WEIGHTS", str(tmp_path / "elsewhere.npz"))
    with pytest.raises(UserError, match="elsewhere.npz"):
        inception.weights_path()


def test_missing_weights_cli_exits_2_with_one_line(tmp_path):
    """The converter's entry point turns a missing input into one line on stderr, exit status 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-m", "common.metrics.convert_fid_weights",
                           str(tmp_path / "missing.pth"), str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "missing.pth" in proc.stderr
    assert not out.exists()
