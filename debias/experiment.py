"""What every de-biasing step shares: profiles, flags, the experiment directory and its files.

One experiment directory per (target, protected, profile, seed), by default
results/debias/<Target>_vs_<Protected>_<profile>_seed<seed>/:

    config.json                    the experiment's configuration (written by every step)
    baseline/  protected/          classifier runs on real data: target / protected attribute
    gan-debiased/                  classifier run on real + G(z) + G(z')
      (each: config.json, checkpoints/, losses.csv, val_ap.csv, best.keras, best.json)
    fake/orig.npz                  z and G(z) (uint8, generator resolution)       generate --generate orig
    fake/labels.npz                hallucinated scores and labels of G(z)           hallucinate
    fake/hyperplanes.json, fake/latents_flip.npz   SVMs, checks, z'                 hyperplane
    fake/flip.npz                  G(z') for the paired latents                     generate --generate flip
    metrics.json, metrics.md, headline.json                                          evaluate
"""
import argparse
from pathlib import Path

import numpy as np

from common import cli
from common.cli import bounded, positive_int
from common.errors import UserError

# CelebA's 40 attributes in list_attr_celeba.txt order (the original's utils.get_all_attr()).
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
# The paper's attribute categories (REFERENCE 5d, unverified there) and their mean results with
# protected attribute Male (project page table: AP, DEO, BA, KL; baseline -> ours).
CATEGORIES = {
    "inconsistently-labelled": ("Big_Lips", "Big_Nose", "Oval_Face", "Pale_Skin", "Wavy_Hair"),
    "gender-dependent": ("Arched_Eyebrows", "Attractive", "Bushy_Eyebrows", "Pointy_Nose",
                         "Receding_Hairline", "Young"),
}
PAPER = {
    "inconsistently-labelled": {"baseline": dict(AP=66.3, DEO=21.5, BA=2.1, KL=1.7),
                                "gan-debiased": dict(AP=65.2, DEO=16.5, BA=0.5, KL=1.3)},
    "gender-dependent": {"baseline": dict(AP=78.6, DEO=25.7, BA=2.3, KL=1.3),
                         "gan-debiased": dict(AP=77.8, DEO=23.4, BA=1.6, KL=1.2)},
    "gender-independent": {"baseline": dict(AP=83.9, DEO=16.7, BA=0.3, KL=1.1),
                           "gan-debiased": dict(AP=83.0, DEO=13.9, BA=0.0, KL=0.9)},
}
MODELS = ("baseline", "protected", "gan-debiased")

# label_fallback: when the label threshold puts every generated image of the SVMs' slice in one class
#   (no hyperplane can be fitted), "median" splits the scores at their median instead and says so
#   (fake/labels.json, metrics.json); "none" stops with an error.
# clip_latents: keep z' inside the generator's training range (a uniform prior's box [-1, 1]; a
#   normal prior has none); the fraction clipped is recorded in fake/hyperplanes.json.
# kl: the KL definition of the evaluation (debias.metrics.KL_DEFINITIONS; "original" = the paper's).
SHARED = dict(attribute="Arched_Eyebrows", protected_attribute="Male", lr=1e-4, label_threshold="f1",
              label_fallback="median", clip_latents=True, kl="common-bins",
              bootstrap=500, latent_prior=None, train_limit=None, imagenet=True, input_size=None, eager=False)
PROFILES = {
    # seconds: a tiny classifier on a few images, run eagerly (tracing would cost more than the
    # few steps), to check that every step runs
    "smoke": dict(SHARED, backbone="small", widths=[4, 8], head_units=8, image_size=32, epochs=1,
                  batch_size=8, train_limit=32, n_samples=48, n_svm=16, pair_start=16, bootstrap=20,
                  label_threshold="median", eager=True),
    # the CPU profile: the small ResNet at 32 px (the quick BEGAN's resolution; the paper too feeds
    # the classifier the GAN's resolution) on the 4,560 training faces, 5 epochs, Adam 1e-3 (from
    # scratch, not fine-tuning); 3,000 latents: SVMs on the first 1,000, pairs for the other 2,000
    # The hallucinated labels use the paper's F1-optimal threshold; a BEGAN trained for minutes gave
    # 0% positives with it for both attributes (docs/RESULTS.md), so label_fallback splits at the
    # median when the F1 threshold leaves one class, and records that it did.
    "quick": dict(SHARED, backbone="small", widths=[32, 64, 128], head_units=256, image_size=32,
                  epochs=5, batch_size=32, lr=1e-3, n_samples=3000, n_svm=1000, pair_start=1000),
    # the published settings: ResNet-50 at 224 px, 175,000 latents, SVMs on the first 10,000,
    # pairs for z_15000 .. z_174999, 20 epochs of batch 32
    "paper": dict(SHARED, backbone="resnet50", widths=None, head_units=2048, image_size=64, input_size=224,
                  epochs=20, batch_size=32, n_samples=175000, n_svm=10000, pair_start=15000),
}
LABEL_THRESHOLDS = ("f1", "calibrated", "median")
LABEL_FALLBACKS = ("median", "none")
KL_DEFINITIONS = ("common-bins", "original")      # as debias.metrics (not imported here: no sklearn)


def attribute(text):
    """An attribute by CelebA name (case-insensitive) or index 0..39, as the original's --attribute 31."""
    if text.isdigit() and int(text) < len(ATTRIBUTES):
        return ATTRIBUTES[int(text)]
    for name in ATTRIBUTES:
        if name.lower() == text.lower():
            return name
    raise UserError(f"CelebA has no attribute {text!r}; choose a name such as Smiling, Arched_Eyebrows or "
                    f"Male (or an index 0..39)")


def category(name):
    for key, members in CATEGORIES.items():
        if name in members:
            return key
    return "gender-independent"


def parser(prog, description, generator=False):
    p = cli.ArgumentParser(prog=prog, description=description, parents=[cli.parent_parser()])
    g = p.add_argument_group("de-biasing")
    g.add_argument("--attribute", default=None, help="target attribute (default Arched_Eyebrows)")
    g.add_argument("--protected-attribute", default=None, help="protected attribute (default Male)")
    g.add_argument("--name", type=cli.run_name, default=None,
                   help="experiment directory under --out (default <Target>_vs_<Protected>_<profile>_seed<seed>)")
    g.add_argument("--lr", type=bounded(float, 0, low_open=True), default=None, help="Adam learning rate (1e-4)")
    g.add_argument("--backbone", choices=("resnet50", "small"), default=None, help="classifier trunk (profile)")
    g.add_argument("--image-size", type=bounded(int, 16, 256), default=None, help="data resolution (profile)")
    g.add_argument("--train-limit", "--max-train", dest="train_limit", type=positive_int, default=None,
                   help="use the first N real training images")
    g.add_argument("--bootstrap", type=positive_int, default=None, help="bootstrap resamples (500)")
    g.add_argument("--no-imagenet", dest="imagenet", action="store_false", default=None,
                   help="do not try ImageNet weights for ResNet-50")
    g.add_argument("--kl", choices=KL_DEFINITIONS, default=None,
                   help="KL definition of the evaluation: common-bins (both groups on [0, 1]; default) or "
                        "original (the paper's: each group over its own range, integer smoothing)")
    if generator:
        g.add_argument("--generator", default=None,
                       help="generator .keras file or run dir (default: the BEGAN run of this profile "
                            "under <out>/../began)")
        g.add_argument("--latent-prior", choices=("uniform", "normal"), default=None,
                       help="prior of a .keras generator's latent (default uniform in [-1, 1])")
        g.add_argument("--n-samples", type=positive_int, default=None, help="latents to sample (profile)")
        g.add_argument("--n-svm", type=positive_int, default=None, help="latents the SVMs are fit on (profile)")
        g.add_argument("--pair-start", type=bounded(int, 0), default=None,
                       help="latents from this index on get a complement z' (profile)")
        g.add_argument("--label-threshold", choices=LABEL_THRESHOLDS, default=None,
                       help="binarise hallucinated scores at the F1-optimal validation threshold (paper), "
                            "the calibrated one, or the generated scores' median (smoke)")
        g.add_argument("--label-fallback", choices=LABEL_FALLBACKS, default=None,
                       help="when the threshold leaves the SVMs' latents in one class: median = split at "
                            "the scores' median and record it (default), none = stop with an error")
        g.add_argument("--clip-latents", action=argparse.BooleanOptionalAction, default=None,
                       help="clip z' to the generator's training range (the uniform prior's box [-1, 1]; "
                            "default on; the clipped fraction is recorded)")
    return p


def resolve(args):
    """The configuration from profile + flags, with attribute names checked (no TensorFlow needed)."""
    config = cli.resolve(args, PROFILES, exclude=("name", "model_train", "generate", "check_flip"))
    config["attribute"] = attribute(config["attribute"])
    config["protected_attribute"] = attribute(config["protected_attribute"])
    if config["attribute"] == config["protected_attribute"]:
        raise UserError(f"the target and the protected attribute are both {config['attribute']}; "
                        "choose two different attributes")
    if config.get("n_svm", 0) > config.get("pair_start", 0) or config.get("pair_start", 0) >= config.get("n_samples", 1):
        raise UserError(f"need n_svm <= pair_start < n_samples (got {config.get('n_svm')}, "
                        f"{config.get('pair_start')}, {config.get('n_samples')})")
    return config


def experiment_dir(args, config):
    out = Path(args.out or "results/debias")
    name = args.name or f"{config['attribute']}_vs_{config['protected_attribute']}_{config['profile']}_seed{config['seed']}"
    return out / name


def open_experiment(args, config):
    """Create the experiment directory (nothing in it is removed; --overwrite applies per step)."""
    path = experiment_dir(args, config)
    # Made here, not by prepare_run_dir: a later error must not discard the steps already done in it.
    path.mkdir(parents=True, exist_ok=True)
    cli.prepare_run_dir(path, dict(config, overwrite=False), "debias")
    (path / "fake").mkdir(exist_ok=True)
    return path


def find_generator(out, profile):
    """The generator a pipeline uses by default: the one BEGAN run of this profile next to --out."""
    began = Path(out or "results/debias").parent / "began"
    runs = sorted(p for p in began.glob("*/") if (p / "config.json").exists()
                  and cli.read_config(p).get("profile") == profile)
    if len(runs) != 1:
        found = "none" if not runs else ", ".join(map(str, runs))
        raise UserError(f"no single BEGAN run of profile {profile} under {began} (found {found}); train one "
                        f"(python -m began.train --profile {profile} --out {began}) or pass --generator")
    return runs[0]


def real_data(config, data_dir, split):
    """CelebA split at the configured size with (target, protected) labels in {0, 1}."""
    from common import datasets
    data = datasets.load("celeba", split, data_dir, size=config["image_size"])
    names = list(data.attribute_names)
    for key in ("attribute", "protected_attribute"):
        if config[key] not in names:
            raise UserError(f"the CelebA annotations in {data_dir} have no attribute {config[key]}")
    images = data.images
    target = data.attributes[:, names.index(config["attribute"])].astype(np.int64)
    protected = data.attributes[:, names.index(config["protected_attribute"])].astype(np.int64)
    if split == "train" and config.get("train_limit"):
        keep = slice(0, config["train_limit"])
        images, target, protected = images[keep], target[keep], protected[keep]
    return images, target, protected


def resize(images, size):
    """uint8 images to size x size (bilinear, antialiased), e.g. 32 px BEGAN samples for a 64 px classifier."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    import tensorflow as tf
    out = [tf.image.resize(images[i:i + 512], (size, size), antialias=True).numpy()
           for i in range(0, len(images), 512)]
    return np.clip(np.rint(np.concatenate(out)), 0, 255).astype(np.uint8)


def save_npz(path, **arrays):
    """Written to a temporary file and renamed: a half-written file never looks finished."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_npz(path, step):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} is missing; run `python -m debias.{step}` for this experiment first")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def done(path, overwrite, what):
    """True (and says so) when a step's output exists and --overwrite was not given."""
    if Path(path).exists() and not overwrite:
        print(f"{path} exists: {what} already done (pass --overwrite to redo it)")
        return True
    return False
