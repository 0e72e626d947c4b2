"""A BAGAN result directory: its configuration, its trained classes and their generators (used by
bagan/evaluate.py, bagan/augment.py and common.generators)."""
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError


def load_run(run_dir):
    path = Path(run_dir) / cli.CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a BAGAN result directory (no {cli.CONFIG_FILE}); "
                        "pass the res_... directory bagan/train.py printed")
    config = cli.read_config(run_dir)
    if "unbalance" not in config or "variant" not in config:
        raise UserError(f"{run_dir} was not written by bagan/train.py")
    return config


def trained_tags(run_dir):
    tags = sorted(p.name[len("class_"):-len("_generator.weights.h5")]
                  for p in Path(run_dir).glob("class_*_generator.weights.h5"))
    if not tags:
        raise UserError(f"{run_dir} holds no trained generator (class_*_generator.weights.h5); "
                        "train it to the end first (bagan/train.py resumes it)")
    return tags


class Generator:
    """A trained generator of a result directory, for class-conditional sampling in uint8."""

    def __init__(self, run_dir, config, tag, phase="gan"):
        from bagan import gan
        run_dir = Path(run_dir)
        self.variant = gan.variant(config)
        self.model = self.variant.build_generator(config)
        self.sampler = gan.LatentSampler.load(run_dir, tag) if self.variant.class_gaussians else None
        if phase == "init" and self.variant.class_gaussians:     # phase 2: the decoder before adversarial training
            self.model.load_weights(run_dir / f"{tag}_decoder.weights.h5")
        else:
            self.model.load_weights(run_dir / f"class_{tag}_generator.weights.h5")

    def __call__(self, labels, rng, batch_size=256):
        from common.pipeline import to_uint8
        from common.training import predict    # one generator per class: no retracing warnings
        labels = np.asarray(labels, "int32")
        z = self.variant.latents(labels, rng, self.sampler)
        images = predict(self.model, self.variant.generator_inputs(z, labels), batch_size=batch_size)
        return to_uint8(images)


def real_class(probabilities, num_classes):
    """D's verdict on images: its most probable of the K real classes (D's softmax has K + 1
    columns, K = fake; the fake column is left out, so every image gets a class)."""
    return np.asarray(probabilities)[:, :num_classes].argmax(1)


class Discriminator:
    """The trained D of a BAGAN result directory as a K-class classifier of uint8 images (what G
    was trained to satisfy). BAGAN-GP's critic has no class head: `available` is False."""

    def __init__(self, run_dir, config, tag):
        from bagan import gan, models
        self.available = gan.variant(config) is gan.BAGAN
        self.k = config["num_classes"]
        if self.available:
            self.model = models.build_discriminator(tuple(config["image_shape"]), self.k, width=config["width"],
                                                    trunk=config.get("trunk", "bagan"))
            self.model.load_weights(Path(run_dir) / f"class_{tag}_discriminator.weights.h5")

    def __call__(self, images, batch_size=256):
        from common.pipeline import scale
        from common.training import predict
        return real_class(predict(self.model, scale(np.asarray(images)), batch_size=batch_size), self.k)
