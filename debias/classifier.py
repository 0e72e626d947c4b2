"""Training and scoring of the attribute classifier (the original's attribute_classifier + main.py).

BCE on the logit, Adam; after every epoch the validation AP is computed and the best model is kept
(`best.keras`); for the de-biased model that AP is weighted so that each (target, protected) cell
has equal mass, as the original. Finally the validation scores of the best model give the calibrated
threshold (used by evaluate) and the F1-optimal one (used to hallucinate labels), in best.json.
"""
import csv
from pathlib import Path

import numpy as np

from common import cli
from common.progress import Progress
from debias import metrics

BEST = "best.keras"
BEST_JSON = "best.json"
VAL_AP = "val_ap.csv"


def build(config, seed):
    """A `build()` for common.training.train; records whether ImageNet weights were loaded."""
    import keras
    from debias import models
    def make():
        model, loaded = models.classifier(
            image_size=config["image_size"], backbone=config["backbone"], input_size=config.get("input_size"),
            widths=tuple(config["widths"] or ()), head_units=config["head_units"],
            imagenet=config.get("imagenet_weights", False), seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(config["lr"]),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      jit_compile=config.get("jit_compile", False), run_eagerly=config.get("eager", False))
        # Built now so that a checkpoint restores Adam's moments and step count instead of skipping them.
        model.optimizer.build(model.trainable_variables)
        return model
    return make


def scores(model, images_uint8, batch_size=128, progress=None):
    """Sigmoid scores of uint8 images (called batch by batch: no predict function to trace).
    progress: a label for progress lines (a ResNet on CelebA's ~20k test images takes minutes on a CPU)."""
    import tensorflow as tf
    from common.pipeline import scale
    shown = Progress(len(images_uint8), progress, unit="images", interval=10, verbose=bool(progress))
    out = []
    for i in range(0, len(images_uint8), batch_size):
        out.append(tf.sigmoid(model(scale(images_uint8[i:i + batch_size]), training=False)[:, 0]).numpy())
        shown.step(n=len(out[-1]))
    return np.concatenate(out).astype(np.float64)


def load(run_dir):
    import keras
    path = Path(run_dir) / BEST
    if not path.exists():
        from common.errors import UserError
        raise UserError(f"{path} is missing: train this classifier first (python -m debias.train ...)")
    return keras.saving.load_model(path, compile=False, safe_mode=False)


def _history(run_dir):
    path = Path(run_dir) / VAL_AP
    if not path.exists():
        return []
    with open(path) as f:
        return [(int(r["epoch"]), float(r["val_ap"])) for r in csv.DictReader(f)]


def fit(run_dir, config, train, val, weighted_val=False, verbose="auto"):
    """Train on train = (uint8 images, labels) and keep the model of the best validation AP.

    val = (uint8 images, target, protected). Resumable: epochs are fitted one at a time through
    common.training.train (checkpoint + state per epoch), and the AP history is kept in val_ap.csv.
    """
    from common import pipeline, training
    run_dir = Path(run_dir)
    images, labels = train
    val_images, val_target, val_protected = val
    weights = metrics.cell_weights(val_target, val_protected) if weighted_val else None
    # The protected attribute's classifier starts from other initial weights than the target's.
    seed = config["seed"] + (1 if config.get("model_train") == "protected" else 0)
    make = build(config, seed)
    history = _history(run_dir)
    done = cli.epochs_done(run_dir)
    history = [h for h in history if h[0] <= done]
    best = max((ap for _, ap in history), default=-1.0)
    batch = min(config["batch_size"], len(images))
    training.seed_everything(seed)
    for epoch in range(len(history) + 1, config["epochs"] + 1):
        model = training.train(
            make, lambda start: pipeline.make_dataset(images, labels, batch_size=batch, seed=config["seed"],
                                                      start_epoch=start)[0],
            run_dir, epochs=epoch, steps_per_epoch=len(images) // batch, config=config,
            strategy=training.get_strategy(config.get("strategy", "default")), verbose=verbose)
        ap = metrics.average_precision(val_target, scores(model, val_images), weights)
        with open(run_dir / VAL_AP, "a", newline="") as f:
            writer = csv.writer(f)
            if epoch == 1:
                writer.writerow(["epoch", "val_ap"])
            writer.writerow([epoch, ap])
        print(f"{run_dir.name}: epoch {epoch}/{config['epochs']}, validation AP "
              f"{'(cell-weighted) ' if weighted_val else ''}{100 * ap:.2f}")
        if ap > best:
            best = ap
            tmp = run_dir / "best.partial.keras"
            model.save(tmp)
            tmp.replace(run_dir / BEST)
    best_model = load(run_dir)
    val_scores = scores(best_model, val_images)
    f1_t, f1 = metrics.f1_threshold(val_target, val_scores)
    summary = {"val_ap": max(ap for _, ap in _history(run_dir)),
               "best_epoch": max(_history(run_dir), key=lambda h: h[1])[0],
               "cal_thresh": metrics.calibrated_threshold(val_target, val_scores),
               "f1_thresh": f1_t, "val_f1": f1, "weighted_val_ap": weighted_val,
               "imagenet_weights": config.get("imagenet_weights", False)}
    cli.write_json_atomic(run_dir / BEST_JSON, summary)
    return summary
