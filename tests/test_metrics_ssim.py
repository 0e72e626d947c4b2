"""SSIM helpers: identity, pair sampling, batched nearest-real search against a brute force."""
import numpy as np
import pytest

from common.errors import UserError
from common.metrics import ssim


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (12, 16, 16, 1), dtype=np.uint8)


def test_ssim_of_an_image_with_itself_is_one(images):
    assert ssim.ssim(images[0], images[0]) == pytest.approx(1.0)
    np.testing.assert_allclose(ssim.ssim(images[:3], images[:3]), 1.0, rtol=1e-6)
    assert ssim.ssim(images[0], 255 - images[0]) < 0.1


def test_pairwise_ssim_uses_distinct_pairs(images):
    same = np.repeat(images[:1], 5, axis=0)
    assert ssim.pairwise_ssim(same, n_pairs=20) == pytest.approx(1.0)
    noise = ssim.pairwise_ssim(images, n_pairs=50, seed=1)
    assert noise < 0.2 and noise == ssim.pairwise_ssim(images, n_pairs=50, seed=1)


def test_nearest_real_ssim_matches_a_brute_force(images):
    gen = np.random.default_rng(1).integers(0, 256, (5, 16, 16, 1), dtype=np.uint8)
    brute = np.mean([ssim.ssim(np.repeat(g[None], len(images), 0), images).max() for g in gen])
    # small blocks force several generated and real blocks
    assert ssim.nearest_real_ssim(gen, images, pairs_per_batch=5) == pytest.approx(brute, abs=1e-6)
    assert ssim.nearest_real_ssim(images[:4], images) == pytest.approx(1.0)


def test_ssim_input_errors(images):
    with pytest.raises(UserError, match="uint8"):
        ssim.pairwise_ssim(images.astype(np.float32))
    with pytest.raises(UserError, match=">= 11"):
        ssim.pairwise_ssim(images[:, :8, :8])
    with pytest.raises(UserError, match="differ in shape"):
        ssim.nearest_real_ssim(images, images[:, :12, :12])
