"""Label the generated images with the baseline target and protected classifiers (step 3).

    python -m debias.hallucinate [--label-threshold f1|calibrated|median] [--label-fallback median|none] [--check-flip]

Scores G(z) of fake/orig.npz with EXP/baseline and EXP/protected (resized to the classifiers' size)
and binarises them at the F1-optimal validation threshold of each classifier (the original's
get_scores.py); writes fake/labels.npz: target_scores, protected_scores, target, protected, and
fake/labels.json: per attribute the rule and threshold used, the positive rate, and whether the
median fallback replaced a threshold that left the SVMs' latents in one class.
With --check-flip (after generate --generate flip): re-score G(z') and write fake/flip_check.json.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from debias import experiment  # noqa: E402


def parser():
    p = experiment.parser("debias.hallucinate", __doc__.split("\n")[0], generator=True)
    p.add_argument("--check-flip", action="store_true", help="re-score G(z') instead (fake/flip_check.json)")
    return p


def threshold(run_dir, scores, how):
    """f1 / calibrated: from the classifier's best.json (validation); median: of these scores (when
    the generated images lie outside what the classifier saw, e.g. a GAN trained briefly, a
    validation threshold can put all of them on one side)."""
    if how == "median":
        return float(np.median(scores))
    best = cli.read_json(run_dir / "best.json")
    return float(best["f1_thresh" if how == "f1" else "cal_thresh"])


def one_class(labels, n_svm):
    """True when the labels of the SVMs' latents z[:n_svm] (or of all of them) are all one class."""
    labels = np.asarray(labels)
    return len(np.unique(labels[:n_svm])) < 2 or len(np.unique(labels)) < 2


def binarise(scores, rule, run_dir, fallback, n_svm):
    """(labels, record): the scores split at the `rule` threshold; when that leaves the SVMs'
    latents in one class and fallback is "median", split at the median instead and say so."""
    thr = threshold(run_dir, scores, rule)
    labels = (scores > thr).astype(np.int64)
    record = {"rule": rule, "threshold": thr, "positive_rate": float(labels.mean()), "fallback": None}
    if one_class(labels, n_svm) and rule != "median" and fallback == "median":
        note = (f"the {rule} threshold {thr:.3f} put {labels.mean():.1%} of the generated images in the "
                f"positive class (one class): fell back to the scores' median")
        thr = threshold(run_dir, scores, "median")
        labels = (scores > thr).astype(np.int64)
        record.update(rule="median", threshold=thr, positive_rate=float(labels.mean()),
                      fallback=note, requested_rule=rule, requested_threshold=record["threshold"],
                      requested_positive_rate=record["positive_rate"])
    return labels, record


def hallucinate(exp_dir, config, overwrite=False):
    from debias import classifier
    path = exp_dir / "fake" / "labels.npz"
    if experiment.done(path, overwrite, "hallucinate"):
        return path
    orig = experiment.load_npz(exp_dir / "fake" / "orig.npz", "generate --generate orig")
    images = experiment.resize(orig["images"], config["image_size"])
    out, report = {}, {}
    for key, model_train in (("target", "baseline"), ("protected", "protected")):
        run_dir = exp_dir / model_train
        scores = classifier.scores(classifier.load(run_dir), images)
        labels, record = binarise(scores, config["label_threshold"], run_dir,
                                  config.get("label_fallback", "none"), config["n_svm"])
        out[f"{key}_scores"], out[key] = scores, labels
        out[f"{key}_threshold"] = np.float64(record["threshold"])
        report[key] = dict(record, attribute=config["attribute" if key == "target" else "protected_attribute"])
        if record["fallback"]:
            print(f"note: {report[key]['attribute']}: {record['fallback']}")
    experiment.save_npz(path, **out)
    cli.write_json_atomic(exp_dir / "fake" / "labels.json", report)
    said = {k: f"{r['positive_rate']:.1%} positive at {r['rule']} threshold {r['threshold']:.3f}"
            + (" (fallback)" if r["fallback"] else "") for k, r in report.items()}
    print(f"== hallucinate: {len(images)} generated images; {config['attribute']}: {said['target']}; "
          f"{config['protected_attribute']}: {said['protected']}")
    return path


def check_flip(exp_dir, config, overwrite=False):
    """Re-score G(z') (the paper does not, REFERENCE 5g.5): how often the classifiers agree that the
    target label was kept and the protected label flipped, at the thresholds used for G(z).
    Writes fake/flip_check.json."""
    from debias import classifier
    path = exp_dir / "fake" / "flip_check.json"
    if experiment.done(path, overwrite, "the G(z') check"):
        return path
    labels = experiment.load_npz(exp_dir / "fake" / "labels.npz", "hallucinate")
    index = experiment.load_npz(exp_dir / "fake" / "latents_flip.npz", "hyperplane")["index"]
    flip = experiment.load_npz(exp_dir / "fake" / "flip.npz", "generate --generate flip")["images"]
    images = experiment.resize(flip, config["image_size"])
    report = {"n": len(index), "label_threshold": config["label_threshold"]}
    for key, model_train in (("target", "baseline"), ("protected", "protected")):
        scores = classifier.scores(classifier.load(exp_dir / model_train), images)
        new = (scores > float(labels[f"{key}_threshold"])).astype(np.int64)
        old = labels[key][index]
        report[key] = {"label_kept": float(np.mean(new == old)), "label_flipped": float(np.mean(new != old)),
                       "mean_score_z": float(labels[f"{key}_scores"][index].mean()),
                       "mean_score_z_flip": float(scores.mean()),
                       "mean_abs_score_change": float(np.mean(np.abs(scores - labels[f"{key}_scores"][index])))}
    cli.write_json_atomic(path, report)
    print(f"== check G(z'): {config['attribute']} label kept for {report['target']['label_kept']:.1%}, "
          f"{config['protected_attribute']} label flipped for {report['protected']['label_flipped']:.1%} "
          f"(re-scored by the baseline classifiers)")
    return path


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    step = check_flip if args.check_flip else hallucinate
    return step(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
