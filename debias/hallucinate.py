"""Label the generated images with the baseline target and protected classifiers (step 3).

    python -m debias.hallucinate [--label-threshold f1|calibrated|median]

Scores G(z) of fake/orig.npz with EXP/baseline and EXP/protected (resized to the classifiers' size)
and binarises them at the F1-optimal validation threshold of each classifier (the original's
get_scores.py); writes fake/labels.npz: target_scores, protected_scores, target, protected.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402

import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from debias import experiment  # noqa: E402


def parser():
    return experiment.parser("debias.hallucinate", __doc__.split("\n")[0], generator=True)


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


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    return hallucinate(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
