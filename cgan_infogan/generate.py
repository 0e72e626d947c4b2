"""Write a labelled synthetic MNIST set of a requested size from a trained CGAN or InfoGAN.

    python -m cgan_infogan.generate RUN_DIR --model cgan --size 30000 --out cgan_30k.npz
    python -m cgan_infogan.generate RUN_DIR --model infogan --variant noise1 --size 30000 --out info1.npz --data-dir D

Labels are balanced and interleaved (image i has label i mod 10), so every prefix of a set whose
length is a multiple of 10 is balanced too. The CGAN is conditioned on each label. The InfoGAN's
categorical codes carry no digit names: they are mapped to digits by classifying generated images of
each code with the reference MNIST classifier and solving the one-to-one assignment that agrees with
it most (scipy linear_sum_assignment), instead of the original's hand-typed order. Its variants
(the original's): noise1 sweeps continuous code 1 over linspace(-2, 2, 10) with code 2 at 0, noise2
the other way round; --code-range 1 sweeps the trained range [-1, 1] instead. Output: an npz with `images` (N, 28, 28, 1) uint8 and `labels` int64, and a
preview PNG beside it.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from common.errors import UserError  # noqa: E402

VARIANTS = {"noise1": 0, "noise2": 1}     # which continuous code is swept
ORIGINAL_RANGE = 2.0                       # the original's linspace(-2, 2, 10): twice the trained U(-1, 1)
SWEEP = np.linspace(-ORIGINAL_RANGE, ORIGINAL_RANGE, 10)


def sweep(code_range=ORIGINAL_RANGE):
    """The 10 values the swept code cycles through: linspace(-r, r, 10); r = 2 is the original's
    (REFERENCE 3g.6), r = 1 stays inside the U(-1, 1) the codes were trained on."""
    return np.linspace(-code_range, code_range, 10)
MAPPING_FILE = "code_to_digit.json"
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


def load_gan(run_dir, model):
    """The trained GAN of RUN_DIR/<model> restored from its latest checkpoint, and the epoch (built
    as it was trained: the InfoGAN variant decides which optimizer holds the Q head's state)."""
    from cgan_infogan import gan, train
    from common import training
    folder = model_dir(run_dir, model)
    config = cli.read_config(folder)
    variant = train.variant_of(config) if model == "infogan" else None
    instance = gan.build(model, seed=config["seed"], variant=variant)()
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
    """Classify `per_code` images of each categorical code (z ~ N(0, I) and continuous codes
    ~ U(-1, 1), as in training, from a NumPy RNG so that the GAN's own noise stream is left alone)
    with `predict(images_uint8) -> digits`; returns the mapping record."""
    from cgan_infogan import models
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(10), per_code).astype(np.int32)
    cont = rng.uniform(-1, 1, (len(codes), 2)).astype(np.float32)
    z = rng.standard_normal((len(codes), models.INFO_Z)).astype(np.float32)
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


def parser():
    p = cli.ArgumentParser(prog="cgan_infogan/generate.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a train.py run directory (holding cgan/ and/or infogan/)")
    p.add_argument("--model", choices=("cgan", "infogan"), required=True)
    p.add_argument("--variant", choices=tuple(VARIANTS), default="noise1",
                   help="InfoGAN: which continuous code is swept over linspace(-R, R, 10) (default noise1)")
    p.add_argument("--code-range", type=cli.bounded(float, 0, 4, low_open=True), default=None,
                   help="InfoGAN: R, in (0, 4], of the swept code (default 2, the original's; 1 stays in "
                        "the trained range U(-1, 1))")
    p.add_argument("--size", type=cli.positive_int, required=True, help="number of images")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--data-dir", default=None, help="MNIST root for the reference classifier (InfoGAN)")
    p.add_argument("--reference-epochs", type=cli.positive_int, default=None,
                   help="epochs of the cached reference classifier to use (default: common.metrics' choice)")
    p.add_argument("-s", "--seed", type=cli.seed, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    out = cli.new_output(args.out, args.overwrite)
    if out.suffix != ".npz":
        raise UserError(f"--out {out} must end in .npz")
    loaded = load_gan(args.run_dir, args.model)
    from common import datasets, training
    training.seed_everything(args.seed)
    reseed(loaded[0], args.seed)
    source = args.model if args.model == "cgan" else f"infogan_{args.variant}"
    from cgan_infogan.evaluate import PROFILES
    code_range = args.code_range or PROFILES["paper"]["code_range"]
    images, labels, info = synthetic_set(args.run_dir, source, args.size,
                                         lambda: reference_predict(datasets.data_dir(args.data_dir), args.reference_epochs),
                                         loaded, code_range)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.npz")
    np.savez_compressed(tmp, images=images, labels=labels, info=json.dumps(info))
    os.replace(tmp, out)
    preview(images, labels, out.with_suffix(".png"))
    print(f"wrote {out}: {len(images)} images, {np.bincount(labels, minlength=10).tolist()} per digit; {info}")


if __name__ == "__main__":
    main()
