"""Label the generated images with the baseline target and protected classifiers (step 3).

    python -m debias.hallucinate [--label-threshold f1|calibrated|median] [--check-flip]

Scores G(z) of fake/orig.npz with EXP/baseline and EXP/protected (resized to the classifiers' size)
and binarises them at the F1-optimal validation threshold of each classifier (the original's
get_scores.py); writes fake/labels.npz: target_scores, protected_scores, target, protected.
With --check-flip (after generate --generate flip): re-score G(z') and write fake/flip_check.json.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

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
    best = json.loads((run_dir / "best.json").read_text())
    return float(best["f1_thresh" if how == "f1" else "cal_thresh"])


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
        thr = threshold(run_dir, scores, config["label_threshold"])
        out[f"{key}_scores"], out[key] = scores, (scores > thr).astype(np.int64)
        out[f"{key}_threshold"] = np.float64(thr)
        report[key] = f"{out[key].mean():.1%} positive at {config['label_threshold']} threshold {thr:.3f}"
    experiment.save_npz(path, **out)
    print(f"== hallucinate: {len(images)} generated images; {config['attribute']}: {report['target']}; "
          f"{config['protected_attribute']}: {report['protected']}")
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
