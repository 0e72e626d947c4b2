"""Latent-space hyperplanes and complementary latents (the original's linear.py).

With unit normals w_a (target) and w_g (protected), d = w_g.z + b_g and c = w_g.w_a,

    z' = z - [2 d / (1 - c^2)] (w_g - c w_a)

keeps the target score (w_a.(w_g - c w_a) = 0) and negates the protected score
(w_g.(w_g - c w_a) = 1 - c^2, so w_g.z' + b_g = d - 2d = -d).
"""
import numpy as np
from sklearn.svm import LinearSVC

from common.errors import UserError


def fit_hyperplane(z, labels, name, max_iter=500000, seed=0):
    """LinearSVC (C = 1, squared hinge, as the original) on latents -> (w, b) rescaled to |w| = 1."""
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        raise UserError(f"every generated image got the same hallucinated {name} label ({labels[0]}); "
                        "a hyperplane needs both: sample more images or train the classifier longer")
    svm = LinearSVC(C=1.0, max_iter=max_iter, random_state=seed).fit(z, labels)
    w, b = svm.coef_[0].astype(np.float64), float(svm.intercept_[0])
    norm = np.linalg.norm(w)
    return w / norm, b / norm


def accuracy(z, labels, w, b):
    """How often the hyperplane's side agrees with the labels."""
    return float(np.mean((np.asarray(z) @ w + b > 0) == (np.asarray(labels) == 1)))


def complement(z, w_a, w_g, b_g):
    """The paper's z': same target score, negated protected score."""
    w_a, w_g = np.asarray(w_a, np.float64), np.asarray(w_g, np.float64)
    c = float(w_g @ w_a)
    if abs(c) >= 1.0 - 1e-9:
        raise UserError("the target and protected hyperplanes are parallel (|w_g.w_a| = 1): no z' keeps "
                        "one score and negates the other")
    d = np.asarray(z, np.float64) @ w_g + b_g
    return np.asarray(z, np.float64) - (2.0 * d / (1.0 - c * c))[:, None] * (w_g - c * w_a)[None]


def check_complement(z, z_flip, w_a, b_a, w_g, b_g):
    """Largest deviations from 'target score kept' and 'protected score negated'."""
    z, z_flip = np.asarray(z, np.float64), np.asarray(z_flip, np.float64)
    return {"max_target_score_change": float(np.max(np.abs(z_flip @ w_a - z @ w_a), initial=0.0)),
            "max_protected_sum": float(np.max(np.abs((z_flip @ w_g + b_g) + (z @ w_g + b_g)), initial=0.0))}


def clip_to_prior(z_flip, prior):
    """z' kept inside the generator's training range: a uniform prior's box [-1, 1] (BEGAN); a
    normal prior has no bound, so nothing is clipped. Returns (z', record) with the share of z'
    with any coordinate outside the box and the share of coordinates clipped."""
    z_flip = np.asarray(z_flip, np.float64)
    if prior != "uniform":
        return z_flip, {"clipped": False, "reason": f"{prior} prior: no bounded training range"}
    outside = np.abs(z_flip) > 1.0
    return np.clip(z_flip, -1.0, 1.0), {
        "clipped": True, "box": [-1.0, 1.0],
        "fraction_latents_clipped": float(np.mean(np.any(outside, axis=1))) if len(z_flip) else 0.0,
        "fraction_coordinates_clipped": float(np.mean(outside)) if outside.size else 0.0}


def pair_agreement(z, z_flip, w_a, b_a, w_g, b_g):
    """Shares of pairs whose z' is on z's side of the target hyperplane and on the other side of
    the protected one (both 1 for the exact z'; clipping can move some back)."""
    z, z_flip = np.asarray(z, np.float64), np.asarray(z_flip, np.float64)
    if not len(z):
        return {"target_side_kept": float("nan"), "protected_side_flipped": float("nan")}
    return {"target_side_kept": float(np.mean((z @ w_a + b_a > 0) == (z_flip @ w_a + b_a > 0))),
            "protected_side_flipped": float(np.mean((z @ w_g + b_g > 0) != (z_flip @ w_g + b_g > 0)))}
