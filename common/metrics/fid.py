"""FID and KID on pool3 features of the TF-FID InceptionV3.

FID is pytorch-fid's `calculate_frechet_distance` (computed through symmetric eigendecompositions);
KID is the unbiased MMD^2 with the cubic polynomial kernel of Binkowski et al.
(2018), averaged over random subsets. Statistics of a real set are cached as npz, keyed by a
fingerprint of its pixels and of the weight file, so a package evaluating many runs against the same
data extracts them once.
"""
import hashlib
import os
from pathlib import Path

import numpy as np
from scipy import linalg

from common.errors import UserError
from common.metrics import inception
from common.progress import Progress


def statistics(features):
    """mu (float64 mean) and sigma (np.cov, ddof=1) of (N, D) features, as in pytorch-fid."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise UserError(f"FID needs at least 2 feature vectors of shape (N, D), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2)).

    sigma1 sigma2 is similar to the symmetric PSD matrix r sigma2 r with r = sigma1^(1/2), so the
    trace of its square root is the sum of the square roots of that matrix's eigenvalues: two `eigh`
    calls, several times faster than scipy's `sqrtm` and never complex. On the reference MNIST sets
    it differs from pytorch-fid's sqrtm result by 1.4e-5 (shared/data/fid/README.md).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise UserError(f"FID statistics disagree in shape: mu {mu1.shape} / {mu2.shape}, "
                        f"sigma {sigma1.shape} / {sigma2.shape}")
    w, v = linalg.eigh(sigma1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    product = root @ sigma2 @ root
    tr_covmean = np.sqrt(np.clip(linalg.eigvalsh((product + product.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def _mmd2_unbiased(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (diagonals of Kxx and Kyy left out)."""
    d = x.shape[1]
    m, n = len(x), len(y)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.sum() / (m * n))


def kid(features_a, features_b, subsets=100, subset_size=1000, seed=0, verbose=0):
    """KID: (mean, std) of the unbiased MMD^2 over `subsets` random subsets of `subset_size` drawn
    without replacement from each set. When both sets are no larger than `subset_size`, the whole
    sets are compared once (std 0), which is the estimate over the full sets. verbose: progress
    lines (a subset of 1000 takes about a second on a CPU)."""
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise UserError(f"KID needs two (N, D) feature sets with the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2 or subsets < 1 or subset_size < 2:
        raise UserError(f"KID needs >= 2 samples per set, subsets >= 1 and subset_size >= 2 "
                        f"(got {len(a)}, {len(b)} samples, subsets={subsets}, subset_size={subset_size})")
    if len(a) <= subset_size and len(b) <= subset_size:
        return float(_mmd2_unbiased(a, b)), 0.0
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    progress = Progress(subsets, "KID", unit="subsets", interval=10, verbose=bool(verbose))
    values = []
    for _ in range(subsets):
        values.append(_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                                     b[rng.choice(len(b), size, replace=False)]))
        progress.step()
    return float(np.mean(values)), float(np.std(values))


def fingerprint(images_uint8, weights_file):
    """A key for a real set's cached features: its pixels, shape and the weight file's identity."""
    images = np.ascontiguousarray(images_uint8)
    digest = hashlib.sha1(f"{images.shape}|{images.dtype}|{inception.NAME}|"
                          f"{Path(weights_file).name}|{Path(weights_file).stat().st_size}".encode())
    digest.update(images.data)
    return digest.hexdigest()[:20]


def cache_dir():
    from common.datasets import cache_dir as datasets_cache
    return Path(datasets_cache()) / "fid_stats"


def real_features(real_uint8, weights=None, data_dir=None, batch_size=50, verbose=1, cache=True):
    """pool3 features of a real set with their mu and sigma, read from / written to the npz cache."""
    path_weights = inception.weights_path(weights, data_dir)
    path = cache_dir() / f"{fingerprint(real_uint8, path_weights)}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as z:
                return z["features"], z["mu"], z["sigma"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is recomputed
    features = inception.pool3(real_uint8, path_weights, batch_size=batch_size, verbose=verbose,
                               what="Inception features, real images")
    mu, sigma = statistics(features)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, features=features, mu=mu, sigma=sigma, feature_network=inception.NAME)
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation only
    return features, mu, sigma


def fid_kid(real_uint8, fake_uint8, data_dir=None, weights=None, kid_subsets=100, kid_subset_size=1000,
            seed=0, batch_size=50, verbose=1, cache=True):
    """FID and KID between uint8 image sets (N, H, W, 1|3), with the counts and network recorded."""
    for name, images in (("real", real_uint8), ("fake", fake_uint8)):
        inception.check_images(images, name)
    real, mu_r, sigma_r = real_features(real_uint8, weights, data_dir, batch_size, verbose, cache)
    fake = inception.pool3(fake_uint8, weights, data_dir, batch_size=batch_size, verbose=verbose,
                           what="Inception features, generated images")
    mu_f, sigma_f = statistics(fake)
    kid_mean, kid_std = kid(real, fake, kid_subsets, kid_subset_size, seed, verbose)
    whole = max(len(real), len(fake)) <= kid_subset_size  # kid() then compares the full sets once
    return {"fid": frechet_distance(mu_r, sigma_r, mu_f, sigma_f), "kid_mean": kid_mean,
            "kid_std": kid_std, "n_real": len(real), "n_fake": len(fake),
            "kid_subsets": 1 if whole else kid_subsets,
            "kid_subset_size": "full sets" if whole else min(kid_subset_size, len(real), len(fake)),
            "feature_network": inception.NAME}
