"""The fairness metrics of the original's compute_fairness / utils.py (REFERENCE 5f).

    threshold: calibrated on validation so that #(score >= thr) = #positives; reused on test
    AP:  sklearn average_precision_score                       (reported x100)
    DEO: |FNR_{g=0} - FNR_{g=1}|                               (x100)
    BA:  BiasAmp attribute -> task (Wang & Russakovsky 2021)   (x100)
    KL:  KL between the groups' smoothed score histograms, both ways, for t = 0 and t = 1, by one of
         two definitions (KL_DEFINITIONS): "common-bins" (default) or "original" (the paper's)
Each with a seeded 500-sample bootstrap: median, std and the printed +-2 std.
"""
import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.metrics import average_precision_score, f1_score

from common.progress import Progress

SCALE = {"AP": 100.0, "DEO": 100.0, "BA": 100.0, "KL": 1.0, "KL_other": 1.0}   # as the original prints them


def calibrated_threshold(targets, scores):
    """The score of the k-th highest-scored example, k = number of positives (utils.calibrated_threshold);
    predicting `scores >= threshold` then gives as many predicted as true positives (without ties)."""
    positives = int(np.sum(targets))
    if positives == 0:
        return float(np.max(scores)) + 1.0
    return float(np.sort(np.asarray(scores))[-positives])


def f1_threshold(targets, scores):
    """The F1-optimal threshold of the original's get_threshold: a 0.1 grid, then a 0.01 grid around
    the best; used to binarise the hallucinated labels of generated images."""
    targets, scores = np.asarray(targets), np.asarray(scores)

    def f1(t):
        return f1_score(targets, scores > t, zero_division=0)

    best_t, best = -1.0, 0.0
    for t in 0.1 * np.arange(1, 10):
        if f1(t) > best:
            best_t, best = t, f1(t)
    for t in (best_t - 0.1) + 0.01 * np.arange(1, 20):
        if f1(t) > best:
            best_t, best = t, f1(t)
    return float(best_t), float(best)


def average_precision(targets, scores, weights=None):
    return float(average_precision_score(targets, scores, sample_weight=weights))


def cell_weights(targets, protected):
    """The original's compute_class_weight: every (target, group) cell gets the same total weight
    within its target class (used for the validation AP of the de-biased model)."""
    t, g = np.asarray(targets, float), np.asarray(protected, float)
    cp, cn = t.sum(), len(t) - t.sum()
    cells = {(a, b): np.sum((t == a) & (g == b)) for a in (0, 1) for b in (0, 1)}
    per_example = np.array([cells[(a, b)] for a, b in zip(t, g)], float)
    return (t * cp + (1 - t) * cn) / (2 * per_example)


def false_negative_rate(targets, predictions):
    positives = targets == 1
    if not positives.any():
        return np.nan
    return float(np.mean(predictions[positives] == 0))


def deo(targets, protected, predictions):
    """Difference in equal opportunity: |FNR_{g=0} - FNR_{g=1}| (nan when a group has no positives)."""
    t, g, p = map(np.asarray, (targets, protected, predictions))
    return abs(false_negative_rate(t[g == 0], p[g == 0]) - false_negative_rate(t[g == 1], p[g == 1]))


def bias_amplification(targets, protected, predictions):
    """BiasAmp attribute -> task (bias_amp.bog_attribute_to_task with get_at's counts).

    counts[t, g] of the ground truth and of the predictions (with the true group), each divided by the
    group's size; pred - gt per cell, negated where P(t | g) < P(t), zero where equal; nanmean."""
    t, g, p = (np.asarray(a).astype(int) for a in (targets, protected, predictions))
    truth = np.array([[np.sum((t == i) & (g == j)) for j in (0, 1)] for i in (0, 1)], float)
    pred = np.array([[np.sum((p == i) & (g == j)) for j in (0, 1)] for i in (0, 1)], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        group = truth.sum(axis=0, keepdims=True)
        p_t_given_g = truth / group
        p_t = truth.sum(axis=1, keepdims=True) / truth.sum()
        diff = pred / group - p_t_given_g
    return float(np.nanmean(diff * np.sign(p_t_given_g - p_t)))


KL_DEFINITIONS = ("common-bins", "original")


def _smoothed_histogram(values, bins, sigma):
    """common-bins: both groups on the bins of [0, 1], float counts smoothed, normalised, + 1e-6."""
    hist = np.histogram(values, bins=bins, range=(0.0, 1.0))[0].astype(float)
    smooth = gaussian_filter(hist, sigma)
    return smooth / smooth.sum() + 1e-6


def _original_histogram(values, bins, sigma):
    """The original's utils.smoothed_hist_kl_distance: bins over this group's OWN [min, max] (numpy's
    automatic range), and gaussian_filter on the integer counts, whose output keeps the integer
    dtype, so the smoothed counts are truncated to integers; then normalised, + 1e-6. (All-zero
    smoothed counts, possible for a handful of scores, give nan, as there.)"""
    smooth = gaussian_filter(np.histogram(values, bins=bins)[0], sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        return smooth / smooth.sum() + 1e-6


def kl(p, q):
    return float(np.sum(np.where(p != 0, p * np.log(p / q), 0.0)))


def kl_divergences(targets, protected, scores, bins=50, sigma=1.0, definition="common-bins"):
    """[KL(g0||g1) | t=1, KL(g1||g0) | t=1, KL(g0||g1) | t=0, KL(g1||g0) | t=0] between the groups'
    score histograms: 50 bins, gaussian_filter(sigma=1), normalised, + 1e-6.

    definition "common-bins" (default): both histograms share the bins of [0, 1] (scores are
    probabilities); "original": the original's, each group histogrammed over its own range with
    integer smoothing (see _original_histogram). The original's bin k of one group and bin k of the
    other cover different scores, so it measures only the shapes: scores from U(0, .5) against
    U(.5, 1) give a KL near 0 there and a large one here. Use "original" to compare with the
    paper's KL column. nan for a cell where a group is empty."""
    if definition not in KL_DEFINITIONS:
        raise ValueError(f"KL definition must be one of {KL_DEFINITIONS}, not {definition!r}")
    histogram = _smoothed_histogram if definition == "common-bins" else _original_histogram
    t, g, s = map(np.asarray, (targets, protected, scores))
    values = []
    for label in (1, 0):
        a, b = s[(g == 0) & (t == label)], s[(g == 1) & (t == label)]
        if len(a) == 0 or len(b) == 0:
            values += [np.nan, np.nan]
            continue
        ha, hb = histogram(a, bins, sigma), histogram(b, bins, sigma)
        values += [kl(ha, hb), kl(hb, ha)]
    return values


def bootstrap_indices(n, repeats=500, seed=0):
    """The resamples (with replacement) every metric shares: a pure function of (n, repeats, seed)."""
    return np.random.default_rng(seed).integers(0, n, size=(repeats, n))


def summarise(values, scale=1.0):
    values = np.asarray(values, float).ravel() * scale
    values = values[np.isfinite(values)]     # resamples where a metric is undefined (an empty cell)
    if len(values) == 0:
        return {"median": float("nan"), "std": float("nan"), "pm2std": float("nan")}
    median, std = float(np.median(values)), float(np.std(values))
    return {"median": median, "std": std, "pm2std": 2 * std}


def resampled(targets, protected, scores, threshold, repeats=500, seed=0, kl_definition="common-bins",
              progress=None):
    """AP, DEO, BA (one value per bootstrap resample) and KL (4 per resample, by `kl_definition`;
    KL_other: the other definition, for comparison) of one classifier. progress: a label for progress
    lines (500 resamples of CelebA's test split take minutes)."""
    other = next(d for d in KL_DEFINITIONS if d != kl_definition)
    t, g, s = (np.asarray(a) for a in (targets, protected, scores))
    p = (s >= threshold).astype(int)
    runs = {"AP": [], "DEO": [], "BA": [], "KL": [], "KL_other": []}
    shown = Progress(repeats, progress, unit="resamples", interval=10, verbose=bool(progress))
    for idx in bootstrap_indices(len(t), repeats, seed):
        ti, gi, si, pi = t[idx], g[idx], s[idx], p[idx]
        runs["AP"].append(average_precision(ti, si) if 0 < ti.sum() < len(ti) else np.nan)
        runs["DEO"].append(deo(ti, gi, pi))
        runs["BA"].append(bias_amplification(ti, gi, pi))
        runs["KL"].append(kl_divergences(ti, gi, si, definition=kl_definition))
        runs["KL_other"].append(kl_divergences(ti, gi, si, definition=other))
        shown.step()
    return {name: np.asarray(v, float) for name, v in runs.items()}


def paired_difference(runs_a, runs_b):
    """B - A of AP, DEO and BA over the same resamples (x100): bootstrap summary, plus the share
    of resamples where B is lower, which the separate intervals of A and B cannot tell."""
    out = {}
    for name in ("AP", "DEO", "BA"):
        d = (runs_b[name] - runs_a[name]) * SCALE[name]
        d = d[np.isfinite(d)]
        out[name] = dict(summarise(d), share_lower=float(np.mean(d < 0)) if len(d) else float("nan"))
    return out


def fairness(targets, protected, scores, threshold, repeats=500, seed=0, runs=None, kl_definition="common-bins",
             progress=None):
    """AP, DEO, BA and KL of one classifier on one split, each a bootstrap summary (median, std,
    2 std); the median of KL is over all 4 x `repeats` values, as the original's bootstrap_kl.
    KL follows `kl_definition`; KL_other is the other definition. `runs`: the `resampled` values
    of these arguments, when the caller has them already. progress: as in `resampled`."""
    t, g, s = (np.asarray(a) for a in (targets, protected, scores))
    p = (s >= threshold).astype(int)
    runs = resampled(t, g, s, threshold, repeats, seed, kl_definition, progress) if runs is None else runs
    result = {name: summarise(v, SCALE[name]) for name, v in runs.items()}
    result["point"] = {"AP": average_precision(t, s) * 100, "DEO": deo(t, g, p) * 100,
                       "BA": bias_amplification(t, g, p) * 100,
                       "KL": summarise(kl_divergences(t, g, s, definition=kl_definition))["median"]}
    result["kl_definition"] = kl_definition
    result["kl_other_definition"] = next(d for d in KL_DEFINITIONS if d != kl_definition)
    result["threshold"] = float(threshold)
    result["predicted_positives"], result["positives"] = int(p.sum()), int(t.sum())
    return result
