"""Train the attribute classifiers of GAN latent-space de-biasing (step 1 and step 5).

    python -m debias.train --model-train baseline --attribute Arched_Eyebrows --protected-attribute Male
    python -m debias.train --model-train protected      # the protected attribute's own classifier
    python -m debias.train --model-train gan-debiased   # real + G(z) + G(z'), after the other steps
    python -m debias.train --profile quick --data-dir D --out results/debias [--generator RUN]
        without --model-train: the whole pipeline up to the de-biased classifier (what run_all.sh
        runs; `python -m debias.pipeline` also evaluates)

Each classifier is a run directory inside the experiment directory (see debias/experiment.py):
config.json (with "imagenet_weights"), checkpoints/, losses.csv, val_ap.csv, best.keras, best.json.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import cli, datasets  # noqa: E402
from common.errors import UserError  # noqa: E402
from debias import experiment  # noqa: E402

CLASSIFIER_KEYS = ("backbone", "widths", "head_units", "image_size", "input_size", "epochs", "batch_size",
                   "lr", "seed", "max_train", "imagenet", "jit_compile", "eager", "strategy", "profile",
                   "attribute", "protected_attribute")
DEBIAS_KEYS = ("n_samples", "n_svm", "pair_start", "label_threshold", "label_fallback", "clip_latents")


def parser():
    p = experiment.parser("debias.train", __doc__.split("\n")[0], generator=True)
    p.add_argument("--model-train", choices=experiment.MODELS, default=None,
                   help="which classifier to train; without it, run the whole pipeline")
    return p


def classifier_config(config, model_train):
    keys = CLASSIFIER_KEYS + (DEBIAS_KEYS if model_train == "gan-debiased" else ())
    run = {k: config.get(k) for k in keys}
    run["model_train"] = model_train
    run["predicts"] = config["protected_attribute"] if model_train == "protected" else config["attribute"]
    return run


def imagenet_weights(config):
    """Whether ResNet-50 starts from ImageNet weights (tried once; offline it cannot)."""
    if config["backbone"] != "resnet50" or not config.get("imagenet", True):
        return False
    from debias import models
    loaded = models.imagenet_available(config.get("input_size") or config["image_size"])
    if not loaded:
        print("ImageNet weights for ResNet-50 could not be loaded (offline?): training from scratch "
              "(recorded as imagenet_weights: false in config.json)")
    return loaded


def debiased_training_set(exp_dir, config, real_images, real_target, real_protected):
    """Real + G(z) + G(z') for the paired latents: G(z) labelled (t(z), g(z)), G(z') (t(z), 1 - g(z))."""
    fake = exp_dir / "fake"
    labels = experiment.load_npz(fake / "labels.npz", "hallucinate")
    pairs = experiment.load_npz(fake / "latents_flip.npz", "hyperplane")
    orig = experiment.load_npz(fake / "orig.npz", "generate --generate orig")
    flip = experiment.load_npz(fake / "flip.npz", "generate --generate flip")
    index = pairs["index"]
    if len(flip["images"]) != len(index):
        raise UserError(f"{fake / 'flip.npz'} holds {len(flip['images'])} images for {len(index)} latents; "
                        "run generate --generate flip --overwrite")
    size = config["image_size"]
    images = np.concatenate([real_images, experiment.resize(orig["images"][index], size),
                             experiment.resize(flip["images"], size)])
    t = labels["target"][index]
    g = labels["protected"][index]
    target = np.concatenate([real_target, t, t])
    protected = np.concatenate([real_protected, g, 1 - g])
    return images, target, protected


def train_model(model_train, config, exp_dir, data_dir, overwrite=False, verbose="auto"):
    """Train one classifier of the experiment; returns its best.json summary."""
    from debias import classifier
    run = classifier_config(config, model_train)
    run["imagenet_weights"] = imagenet_weights(config)
    run_dir = exp_dir / model_train
    images, target, protected = experiment.real_data(config, data_dir, "train")
    val_images, val_target, val_protected = experiment.real_data(config, data_dir, "val")
    if model_train == "protected":
        target, val_target, protected, val_protected = protected, val_protected, target, val_target
    if model_train == "gan-debiased":
        images, target, protected = debiased_training_set(exp_dir, config, images, target, protected)
    for name, labels in (("training", target), ("validation", val_target)):
        if labels.min() == labels.max():
            raise UserError(f"every {name} image has {run['predicts']} = {labels[0]}: a classifier needs both "
                            "classes; choose another attribute or more images")
    cli.prepare_run_dir(run_dir, dict(run, overwrite=overwrite))
    print(f"== {model_train}: {run['predicts']} classifier ({config['backbone']}, "
          f"{'ImageNet weights' if run['imagenet_weights'] else 'from scratch'}) on {len(images)} images")
    summary = classifier.fit(run_dir, run, (images, target), (val_images, val_target, val_protected),
                             weighted_val=model_train == "gan-debiased", verbose=verbose)
    print(f"== {model_train}: best validation AP {100 * summary['val_ap']:.2f} at epoch {summary['best_epoch']}")
    return summary


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    if args.model_train is None:
        from debias import pipeline
        return pipeline.run(args, config, evaluate=False)
    data_dir = datasets.data_dir(args.data_dir)
    exp_dir = experiment.open_experiment(args, config)
    train_model(args.model_train, config, exp_dir, data_dir, overwrite=args.overwrite)
    return exp_dir / args.model_train


if __name__ == "__main__":
    main()
