"""FID / KID arithmetic on small hand-made features (no network needed)."""
import numpy as np
import pytest
from scipy import linalg

from common.errors import UserError
from common.metrics import fid


def test_fid_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(200, 16))
    mu, sigma = fid.statistics(feats)
    assert abs(fid.frechet_distance(mu, sigma, mu, sigma)) < 1e-8


def test_fid_of_two_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 8))
    sigma = a @ a.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    # sigma2 = c^2 sigma1: tr sqrt(sigma1 sigma2) = c tr sigma1, so FID = |dmu|^2 + (1 - c)^2 tr sigma1
    c = 1.7
    expected = np.sum((mu1 - mu2) ** 2) + (1 - c) ** 2 * np.trace(sigma)
    assert fid.frechet_distance(mu1, sigma, mu2, c * c * sigma) == pytest.approx(expected, rel=1e-9)
    # non-commuting covariances: against scipy's sqrtm (pytorch-fid's formula)
    b = rng.normal(size=(8, 8))
    sigma2 = b @ b.T + 0.1 * np.eye(8)
    by_sqrtm = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma) + np.trace(sigma2)
                - 2 * np.trace(linalg.sqrtm(sigma @ sigma2)).real)
    assert fid.frechet_distance(mu1, sigma, mu2, sigma2) == pytest.approx(by_sqrtm, rel=1e-9)
    assert fid.frechet_distance(mu2, sigma2, mu1, sigma) == pytest.approx(by_sqrtm, rel=1e-9)


def test_kid_matches_a_hand_computed_value():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 1.0], [0.0, 0.0]])
    # k(a, b) = (a.b / 2 + 1)^3: off-diagonal Kxx = Kyy = 1; Kxy = 3.375, 1, 3.375, 1
    # MMD^2 = 2/2 + 2/2 - 2 * 8.75 / 4 = -2.375
    mean, std = fid.kid(x, y)
    assert mean == pytest.approx(-2.375) and std == 0.0


def test_kid_over_subsets_is_seeded_and_near_zero_for_one_distribution():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    first = fid.kid(a, b, subsets=20, subset_size=100, seed=3)
    assert first == fid.kid(a, b, subsets=20, subset_size=100, seed=3)
    assert first[1] > 0 and abs(first[0]) < 3 * first[1]
    shifted = fid.kid(a, b + 2.0, subsets=20, subset_size=100, seed=3)
    assert shifted[0] > 10 * first[1]


@pytest.mark.parametrize("args", [((np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)))])
def test_fid_shape_mismatch_is_a_user_error(args):
    with pytest.raises(UserError):
        fid.frechet_distance(*args)


def test_kid_rejects_mismatched_features():
    with pytest.raises(UserError, match="same D"):
        fid.kid(np.zeros((5, 3)), np.zeros((5, 4)))


def test_fid_kid_rejects_float_images(tmp_path):
    with pytest.raises(UserError, match="uint8"):
        fid.fid_kid(np.zeros((4, 16, 16, 1), np.float32), np.zeros((4, 16, 16, 1), np.uint8),
                    weights=tmp_path / "none.npz")
