"""Making a dataset imbalanced or few-shot, reproducibly: the kept indices are saved in the run dir."""
import math
from pathlib import Path

import numpy as np

from common.errors import UserError


def prune(labels, target_class, unbalance, seed):
    """BAGAN's rule: class `target_class` keeps ceil(unbalance x the largest count among the other
    classes) of its images, chosen after a seeded shuffle; every other image is kept.
    Returns the sorted indices kept."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if target_class not in classes:
        raise UserError(f"target class {target_class} is not among the classes {classes.min()}..{classes.max()}")
    if not 0 < unbalance <= 1:
        raise UserError(f"unbalance must satisfy 0 < u <= 1, got {unbalance}")
    others = counts[classes != target_class]
    if not len(others):
        raise UserError("pruning needs at least two classes")
    target = np.flatnonzero(labels == target_class)
    keep = min(len(target), math.ceil(unbalance * others.max()))
    kept = np.random.default_rng(seed).permutation(target)[:keep]
    return np.sort(np.concatenate([np.flatnonzero(labels != target_class), kept]))


def k_shot(labels, k, seed, classes=None):
    """k images of each class (all classes present, or those given), chosen with a seeded shuffle."""
    labels = np.asarray(labels)
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise UserError(f"class {c} has {len(members)} images, fewer than the {k} asked for")
        chosen.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def save_indices(run_dir, indices, name="kept_indices.npy"):
    path = Path(run_dir) / name
    np.save(path, np.asarray(indices, np.int64))
    return path
