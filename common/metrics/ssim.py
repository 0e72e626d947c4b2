"""SSIM scores of generated images (tf.image.ssim: 11x11 Gaussian window, sigma 1.5, max_val 255).

`pairwise_ssim` measures variability (DAGAN, BAGAN: a lower mean SSIM between random pairs = more
diverse samples); `nearest_real_ssim` measures closeness to the data (memorisation when near 1).
"""
import numpy as np
import tensorflow as tf

from common.errors import UserError

MIN_SIZE = 11  # the Gaussian window of tf.image.ssim


def _check(images, what):
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise UserError(f"SSIM needs uint8 {what} (0..255), got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or min(images.shape[1:3]) < MIN_SIZE:
        raise UserError(f"SSIM needs {what} shaped (N, H, W[, C]) with H, W >= {MIN_SIZE}, got {images.shape}")
    return images


def ssim(a, b):
    """SSIM of each pair (a[i], b[i]) of uint8 images (or of two single images) -> float array."""
    a, b = np.asarray(a), np.asarray(b)
    single = a.ndim == 3 and b.ndim == 3 and a.shape[-1] in (1, 3) and a.shape == b.shape
    a, b = (_check(x[None] if single else x, "images") for x in (a, b))
    if a.shape != b.shape:
        raise UserError(f"SSIM needs two image batches of the same shape, got {a.shape} and {b.shape}")
    values = tf.image.ssim(tf.constant(a), tf.constant(b), max_val=255).numpy()
    return values[0] if single else values


def pairwise_ssim(images_uint8, n_pairs=1000, seed=0, batch_size=500):
    """Mean SSIM over `n_pairs` random pairs of distinct images of one set (its variability)."""
    images = _check(images_uint8, "images")
    n = len(images)
    if n < 2 or n_pairs < 1:
        raise UserError(f"pairwise SSIM needs >= 2 images and n_pairs >= 1 (got {n} images, {n_pairs} pairs)")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, n_pairs)
    j = (i + rng.integers(1, n, n_pairs)) % n  # never equal to i
    values = [ssim(images[i[s:s + batch_size]], images[j[s:s + batch_size]])
              for s in range(0, n_pairs, batch_size)]
    return float(np.mean(np.concatenate(values)))


def nearest_real_ssim(generated_uint8, real_uint8, pairs_per_batch=4096):
    """Mean over generated images of the highest SSIM to any real image.

    Pairs are scored in broadcast blocks of about `pairs_per_batch` (generated x real), so the cost
    is len(generated) * len(real) SSIMs; subsample the real set when it is large.
    """
    gen, real = _check(generated_uint8, "generated images"), _check(real_uint8, "real images")
    if gen.shape[1:] != real.shape[1:]:
        raise UserError(f"generated {gen.shape[1:]} and real {real.shape[1:]} images differ in shape")
    if len(gen) == 0 or len(real) == 0:
        raise UserError("nearest-real SSIM needs at least one generated and one real image")
    real_block = min(len(real), pairs_per_batch)
    gen_block = max(1, pairs_per_batch // real_block)
    best = np.full(len(gen), -np.inf)
    real_t = tf.constant(real)
    for g in range(0, len(gen), gen_block):
        g_t = tf.constant(gen[g:g + gen_block])[:, None]            # (g, 1, H, W, C)
        for r in range(0, len(real), real_block):
            scores = tf.image.ssim(g_t, real_t[None, r:r + real_block], max_val=255)  # (g, r)
            best[g:g + gen_block] = np.maximum(best[g:g + gen_block], tf.reduce_max(scores, 1).numpy())
    return float(best.mean())
