"""Labelled synthetic MNIST sets from a trained CGAN or InfoGAN: the run restored, balanced labels,
the InfoGAN's code -> digit mapping measured with the reference classifier, previews. Used by
cgan_infogan.generate, cgan_infogan.evaluate, cgan_infogan.train (mapping accuracy) and scripts/."""
import json
from pathlib import Path

import numpy as np

from cgan_infogan.variants import variant_of
from common import cli
from common.errors import UserError

VARIANTS = {"noise1": 0, "noise2": 1}     # which continuous code is swept
ORIGINAL_RANGE = 2.0                       # the original's linspace(-2, 2, 10): twice the trained U(-1, 1)
SWEEP = np.linspace(-ORIGINAL_RANGE, ORIGINAL_RANGE, 10)


def sweep(code_range=ORIGINAL_RANGE):
    """The 10 values the swept code cycles through: linspace(-r, r, 10); r = 2 is the original's
    (REFERENCE 3g.6), r = 1 stays inside the U(-1, 1) the codes were trained on."""
    return np.linspace(-code_range, code_range, 10)
MAPPING_FILE = "code_to_digit.json"
MAPPING_CSV = "mapping.csv"          # the mapping per epoch, written during training
BATCH = 500


def balanced_labels(n, num_classes=10):
    return (np.arange(n) % num_classes).astype(np.int64)


def model_dir(run_dir, model):
    """RUN_DIR/<model> (a train.py run dir), or RUN_DIR itself when it is that model's directory."""
    run_dir = Path(run_dir)
    for candidate in (run_dir / model, run_dir):
        config = candidate / cli.CONFIG_FILE
        if (candidate / cli.STATE_FILE).exists() and config.exists() \
                and cli.read_config(candidate).get("model") == model:
            return candidate
    raise UserError(f"no trained {model} in {run_dir} (expected {run_dir / model}/state.json); "
                    f"train it with python -m cgan_infogan.train --model {model}")


def require_mnist(run_dir, command):
    """generate and evaluate follow the original's MNIST protocol (10 digits, the reference MNIST
    classifier): a run trained on a user's folder is refused in one line, pointing to augment."""
    config_path = Path(run_dir) / cli.CONFIG_FILE
    config = cli.read_config(run_dir) if config_path.is_file() else {}
    if config.get("dataset") or "num_classes" in config:
        raise UserError(f"{run_dir} was trained on {config.get('dataset') or 'a folder'}, not MNIST; {command} "
                        f"follows the MNIST protocol: generate from it with python -m cgan_infogan.augment "
                        f"--data FOLDER --run {run_dir}")


def load_gan(run_dir, model):
    """The trained GAN of RUN_DIR/<model> restored from its latest checkpoint, and the epoch (built
    as it was trained: the InfoGAN variant decides which optimizer holds the Q head's state)."""
    from cgan_infogan import gan
    from common import training
    folder = model_dir(run_dir, model)
    config = cli.read_config(folder)
    variant = variant_of(config) if model == "infogan" else None
    shape = {k: config[k] for k in ("num_classes", "image_shape") if k in config}   # a folder's run
    instance = gan.build(model, seed=config["seed"], variant=variant, **shape)()
    epoch = training.load_checkpoint(instance, folder)
    return instance, epoch, folder


def reseed(model, seed):
    """Restart the GAN's noise stream at `seed`: a checkpoint restores the stream where training left
    it, so without this every seed would draw the same images."""
    state = model.seed_generator.state
    state.assign(np.array([seed, 0], "uint32").astype(state.dtype))


def _batched(fn, n):
    from common.pipeline import to_uint8
    return np.concatenate([to_uint8(fn(start, min(n, start + BATCH))) for start in range(0, n, BATCH)])


def cgan_set(model, n):
    """n CGAN images conditioned on balanced labels."""
    labels = balanced_labels(n)
    images = _batched(lambda a, b: model.generate(labels[a:b].astype(np.int32)).numpy(), n)
    return images, labels


def infogan_codes(n, variant, code_of_digit, code_range=ORIGINAL_RANGE):
    """Category index and continuous codes of the original's sets for balanced labels, the swept
    code over linspace(-code_range, code_range, 10)."""
    if variant not in VARIANTS:
        raise UserError(f"unknown InfoGAN variant {variant!r}; choose {', '.join(VARIANTS)}")
    labels = balanced_labels(n)
    cont = np.zeros((n, 2), np.float32)
    values = sweep(code_range)
    cont[:, VARIANTS[variant]] = values[(np.arange(n) // 10) % len(values)]
    return labels, np.asarray(code_of_digit)[labels].astype(np.int32), cont


def infogan_set(model, n, variant, code_to_digit, code_range=ORIGINAL_RANGE):
    labels, index, cont = infogan_codes(n, variant, np.argsort(code_to_digit), code_range)
    images = _batched(lambda a, b: model.generate(index[a:b], cont[a:b]).numpy(), n)
    return images, labels


def assign_codes(codes, predicted, num_classes=10):
    """The one-to-one code -> digit map that agrees most with the classifier's predictions, and the
    count matrix (code x predicted digit) it was solved on."""
    from scipy.optimize import linear_sum_assignment
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(codes), np.asarray(predicted)), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = np.empty(num_classes, np.int64)
    mapping[rows] = cols
    return mapping, counts


def measure_mapping(model, predict, per_code=300, seed=0):
    """Classify `per_code` images of each categorical code (z from the model's prior and continuous
    codes ~ U(-1, 1), as in training, from a NumPy RNG so that the GAN's own noise stream is left alone)
    with `predict(images_uint8) -> digits`; returns the mapping record."""
    from cgan_infogan import models
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(10), per_code).astype(np.int32)
    cont = rng.uniform(-1, 1, (len(codes), 2)).astype(np.float32)
    # common.generators.latent's draw, written out: that module imports this one
    z = (rng.uniform(-1, 1, (len(codes), models.INFO_Z)) if model.z_prior == "uniform"
         else rng.standard_normal((len(codes), models.INFO_Z))).astype(np.float32)
    one_hot = np.eye(models.INFO_CAT, dtype=np.float32)[codes]
    images = _batched(lambda a, b: model.generator([z[a:b], one_hot[a:b], cont[a:b]], training=False).numpy(),
                      len(codes))
    predicted = np.asarray(predict(images))
    mapping, counts = assign_codes(codes, predicted)
    accuracy = float(np.mean(mapping[codes] == predicted))
    return {"code_to_digit": mapping.tolist(), "mapping_accuracy": accuracy, "per_code": per_code,
            "counts_code_by_predicted_digit": counts.tolist(),
            "note": "accuracy = share of generated images the reference classifier labels as their code's digit"}


def reference_predict(data_dir, epochs=None):
    """predict(images_uint8) -> digits of the suite's reference MNIST classifier (`epochs`: None =
    common.metrics' default; another value picks, or trains once, that cached variant)."""
    from common.metrics import classifier
    model = classifier.reference_classifier("mnist", data_dir, seed=0, epochs=epochs)
    return lambda images: classifier.predict_classes(model, images)


def code_mapping(model, epoch, folder, predict_factory):
    """The InfoGAN's measured mapping, cached in RUN_DIR/infogan/code_to_digit.json per checkpoint."""
    path = Path(folder) / MAPPING_FILE
    if path.exists():
        record = json.loads(path.read_text())
        if record.get("epoch") == epoch:
            return record
    record = {"epoch": epoch, **measure_mapping(model, predict_factory())}
    cli.write_json_atomic(path, record)
    return record


def synthetic_set(run_dir, source, n, predict_factory, loaded=None, code_range=ORIGINAL_RANGE):
    """(images, labels, info) for source "cgan", "infogan_noise1" or "infogan_noise2" (the swept
    continuous code over [-code_range, code_range])."""
    model_name, _, variant = source.partition("_")
    model, epoch, folder = loaded or load_gan(run_dir, model_name)
    if model_name == "cgan":
        images, labels = cgan_set(model, n)
        return images, labels, {"source": source, "epoch": epoch}
    record = code_mapping(model, epoch, folder, predict_factory)
    images, labels = infogan_set(model, n, variant, record["code_to_digit"], code_range)
    return images, labels, {"source": source, "epoch": epoch, "code_to_digit": record["code_to_digit"],
                            "mapping_accuracy": record["mapping_accuracy"], "code_range": code_range}


def preview(images, labels, path, per_class=10):
    from common import plots
    rows = [images[labels == d][:per_class] for d in range(10)]
    if min(len(r) for r in rows) == per_class:
        plots.image_grid(np.stack(rows), path, row_labels=[str(d) for d in range(10)])


def code_to_class(model, images, labels, num_classes):
    """The InfoGAN learns its categories without labels: which category is which class of a labelled
    set. Its Q head names a category for every real image; the one-to-one category -> class map
    that agrees with the labels most often (Hungarian, as `assign_codes`) and that agreement share."""
    from common.pipeline import scale
    logits = np.concatenate([np.asarray(model.discriminator(scale(images[i:i + BATCH]), training=False)[1])
                             for i in range(0, len(images), BATCH)])
    mapping, counts = assign_codes(logits.argmax(-1), labels, num_classes)
    return mapping, float(counts[np.arange(num_classes), mapping].sum() / max(1, len(labels)))
