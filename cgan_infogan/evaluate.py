"""The original's experiment grid, leak-free, plus low-data runs, on a train.py run directory.

    python -m cgan_infogan.evaluate RUN_DIR --profile quick --data-dir D

For every mix REAL+SYN (default the original's 60000+0, 30000+30000, 12000+48000, 6000+54000) and
every synthetic source (cgan, infogan_noise1, infogan_noise2), the original's CNN (convNet.py) is
trained on REAL seeded real training images + SYN synthetic ones, and scored on
  * the official 10k MNIST test set (the headline; `metrics_test.json`), and
  * held-out real training images: the remainder of the 60k not used for training (or a seeded
    sample of it), never an image the classifier trained on.
The original scored on its test split A' + the 10k test set, where A' overlaps the real training
images (a second unseeded random_split, REFERENCE 3g.1); `--leaky-original-split` adds that score
for comparison only. The quick profile runs the grid at 1/5 scale (12k images). Low-data runs
(600 and 3000 real images, alone and + synthetic) show what augmentation gives when real labels are scarce; note the GANs themselves were
trained on all 60k images, as in the original.

Per experiment, RUN_DIR/experiments/<name>/: config.json, metrics_test.json (accuracy, macro
precision, recall, F1), ConfusionMatrix.png, loss_plot.png (+ loss.csv). Per run: metrics.json,
results.md and headline.json. Finished experiments with the same config are not retrained.

The original ran one seed (REFERENCE 3g.9). `--seed 0,1,2` runs every seed (each draws its own real
subsets, synthetic set and classifiers); seed 0 writes the files above, seed s the same files under
RUN_DIR/seed_<s>/, so no seed overwrites another; seeds.md and seeds.json in RUN_DIR give each
experiment's accuracy and its gain over real only (augmented minus the real-only run of the same
real count; in the grid, minus the grid's real-only run) as mean +- std over the seeds. Each
headline row names its seed (and the gain rows their real-only run), so that `common.summary` puts
the seeds' mean of each claim on the scoreboard.
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError
from common.progress import Progress

SOURCES = ("cgan", "infogan_noise1", "infogan_noise2")
# How a low-data run's classifier meets its synthetic images: concat = one shuffled set (the
# original's way: with 600 + 5,400, real images are 10 % of every batch and of the batch statistics);
# share = a fixed share of real images in every batch (--real-share); finetune = synthetic only,
# then the real-only run's schedule on the real images.
MIXING = ("concat", "share", "finetune")
MEAN, STD = 0.1307, 0.3081      # the original's Normalize, applied to every image (real or generated)
PROFILES = {
    # clf_steps_per_epoch: updates per classifier "epoch" for every experiment (60000 // 64 = 937,
    # one pass over the original's 60k-image sets), so small real-only sets get as many updates.
    # code_range: the InfoGAN sets sweep a continuous code over linspace(-r, r, 10); 2 is the
    # original's (beyond the trained U(-1, 1)), --code-range 1 the trained range.
    "smoke": dict(clf_epochs=1, clf_steps_per_epoch=4, mixes="60000+0,300+300", low_data="100+200",
                  test_limit=500, heldout_limit=500, batch_size=64, code_range=2.0, low_data_mixing="concat",
                  real_share=0.5, dropout=0.8),
    # quick: the original's grid at 1/5 scale (12k images, 50/80/90 % synthetic), two 937-step epochs.
    "quick": dict(clf_epochs=2, clf_steps_per_epoch=937,
                  mixes="12000+0,6000+6000,2400+9600,1200+10800", low_data="600+5400,3000+10800",
                  test_limit=None, heldout_limit=10000, batch_size=64, code_range=2.0, low_data_mixing="concat",
                  real_share=0.5, dropout=0.8),
    "paper": dict(clf_epochs=50, clf_steps_per_epoch=937,
                  mixes="60000+0,30000+30000,12000+48000,6000+54000", low_data="600+5400,3000+27000",
                  test_limit=None, heldout_limit=None, batch_size=64, code_range=2.0, low_data_mixing="concat",
                  real_share=0.5, dropout=0.8),
}
# The original's accuracies (on its leaky split) by source and synthetic share of the training set.
PAPER = {("real", 0.0): 0.9887,
         ("cgan", 0.5): 0.98625, ("cgan", 0.8): 0.9806724137931034, ("cgan", 0.9): 0.975703125,
         ("infogan_noise1", 0.5): 0.985325, ("infogan_noise1", 0.8): 0.9790862068965517,
         ("infogan_noise1", 0.9): 0.964734375,
         ("infogan_noise2", 0.5): 0.98555, ("infogan_noise2", 0.8): 0.9775689655172414,
         ("infogan_noise2", 0.9): 0.9689375}
TAGS = {"cgan": "cGan", "infogan_noise1": "infoGan", "infogan_noise2": "infoGan"}
# Targets of a gain over real only, in accuracy points, by (real, synthetic): the 1 %-data
# experiment (600 real MNIST images, 5,400 synthetic) is where augmentation should pay.
GAIN_TARGETS = {(600, 5400): ">= 2"}


def parse_mixes(text, n_real, flag):
    """'30000+30000,600+0' -> [(30000, 30000), (600, 0)], checked against the real images available."""
    mixes = []
    for item in filter(None, (s.strip() for s in str(text).split(","))):
        try:
            real, syn = (int(v) for v in item.split("+"))
        except ValueError:
            raise UserError(f"{flag} {item!r}: write REAL+SYNTHETIC image counts, e.g. 30000+30000")
        if real < 0 or syn < 0 or real + syn == 0:
            raise UserError(f"{flag} {item!r}: counts must be >= 0 and not both 0")
        if real > n_real:
            raise UserError(f"{flag} {item!r} needs {real} real images but only {n_real} MNIST training "
                            "images are available; lower the real count")
        mixes.append((real, syn))
    return mixes


def kilo(n):
    return f"{n / 1000:g}k" if n >= 1000 else str(n)


def experiment_name(source, real, syn, n_real, grid=True):
    """The original's names (base_cnn, mnist_cGan_30k, mnist_infoGan_48k_noise1) for the grid."""
    if syn == 0:
        return "base_cnn" if real == n_real else f"real_only_{real}"
    suffix = source.split("_")[1] if "_" in source else ""
    tail = f"{TAGS[source]}_{kilo(syn)}" + (f"_{suffix}" if suffix else "")
    return f"mnist_{tail}" if grid else (f"real{real}_{tail}" if real else f"synthetic_only_{tail}")


def mixing_suffix(mixing, config):
    """'' for concat (the original's names), else _share50 or _finetune."""
    if mixing == "share":
        return f"_share{round(100 * config['real_share'])}"
    return "" if mixing == "concat" else f"_{mixing}"


def mixing_list(text):
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in chosen if m not in MIXING]
    if bad or not chosen:
        raise UserError(f"--low-data-mixing: unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(MIXING)}")
    return list(dict.fromkeys(chosen))


def normalise(images_uint8):
    return ((np.asarray(images_uint8, np.float32) / 255.0) - MEAN) / STD


def scores(y_true, y_pred):
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision": float(p), "recall": float(r),
            "f1_score": float(f), "n": int(len(y_true))}


def train_classifier(real, synthetic, config, seed):
    """The original's CNN with Adam(1e-3), cross-entropy and batch 64, on (images, labels) `real`
    plus `synthetic` (or None) mixed as config["mixing"] says (MIXING); returns (model, loss rows)."""
    import keras
    import tensorflow as tf
    from cgan_infogan import models
    from common import pipeline
    from common.metrics.classifier import fit_verbose     # minutes per classifier: show its progress
    keras.utils.set_random_seed(seed)
    model = models.classifier(dropout=config["dropout"])
    batch, rows = config["batch_size"], []

    class Log(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = len(rows) + 1
            rows.append((step, float(logs["loss"])))

    def fit(ds):
        model.compile(optimizer=keras.optimizers.Adam(config["lr"]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        ds = ds.map(lambda x, y: (((x + 1.0) / 2.0 - MEAN) / STD, y), num_parallel_calls=tf.data.AUTOTUNE)
        model.fit(ds, epochs=config["epochs"], steps_per_epoch=config["steps_per_epoch"], callbacks=[Log()],
                  verbose=fit_verbose("auto"), shuffle=False)   # the stream is shuffled by common.pipeline
    mixing = config.get("mixing", "concat") if synthetic is not None else "concat"
    if mixing == "share":          # every batch: the same number of real images
        fit(pipeline.mixed_dataset(*real, synthetic, real_share=config["real_share"], batch_size=batch, seed=seed)[0])
    elif mixing == "finetune":     # synthetic only, then the real-only run's schedule from there
        fit(pipeline.make_dataset(*synthetic, batch_size=batch, seed=seed)[0])
        fit(pipeline.make_dataset(*real, batch_size=batch, seed=seed)[0])
    else:
        if synthetic is not None:
            real = tuple(np.concatenate([r, s]) for r, s in zip(real, synthetic))
        fit(pipeline.make_dataset(*real, batch_size=batch, seed=seed)[0])
    return model, rows


def predict(model, images_uint8):
    from common import training      # a classifier per experiment: no retracing warnings
    logits = training.predict(model, normalise(images_uint8), batch_size=1000)
    return np.argmax(logits, axis=-1)


def finished(exp_dir, exp_config):
    """Whether exp_dir holds the result of this experiment (run_experiment then only reads it)."""
    exp_dir = Path(exp_dir)
    return ((exp_dir / "metrics_test.json").exists() and (exp_dir / "config.json").exists()
            and cli.read_json(exp_dir / "config.json") == exp_config)


def run_experiment(exp_dir, exp_config, train_set, eval_sets):
    """Train + score one experiment unless exp_dir already holds its result for this config.
    train_set: (real (images, labels), synthetic (images, labels) or None)."""
    from common import plots
    exp_dir = Path(exp_dir)
    metrics_path = exp_dir / "metrics_test.json"
    config_path = exp_dir / "config.json"
    if finished(exp_dir, exp_config):
        return cli.read_json(metrics_path)
    exp_dir.mkdir(parents=True, exist_ok=True)
    cli.write_json_atomic(config_path, exp_config)
    start = time.time()
    model, rows = train_classifier(*train_set, exp_config, exp_config["seed"])
    train_s = time.time() - start
    with open(exp_dir / "loss.csv", "w") as f:
        f.write("step,loss\n" + "".join(f"{s},{v}\n" for s, v in rows))
    plots.loss_curves(exp_dir / "loss.csv", exp_dir / "loss_plot.png", x="step", title=exp_dir.name)
    results = {}
    for key, (images, labels, note) in eval_sets.items():
        if len(images):
            pred = predict(model, images)
            results[key] = {**scores(labels, pred), "evaluated_on": note}
            if key == "test":
                plots.confusion_matrix(labels, pred, exp_dir / "ConfusionMatrix.png",
                                       labels=[str(i) for i in range(10)], title=f"{exp_dir.name} (official test)")
    test = results.pop("test")
    metrics = {**test, **results, "train_seconds": round(train_s, 1),
               "note": "top-level scores: the official 10k MNIST test set; no score uses an image the "
                       "classifier trained on (except original_leaky_split, kept for comparison only)"}
    cli.write_json_atomic(metrics_path, metrics)
    return metrics


def parser():
    p = cli.ArgumentParser(prog="cgan_infogan/evaluate.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a train.py run directory (holding cgan/ and/or infogan/)")
    p.add_argument("--data-dir", default=None, help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    p.add_argument("--profile", choices=tuple(PROFILES), default="quick")
    p.add_argument("-s", "--seed", dest="seeds", type=seed_list, default=[0],
                   help="seed(s) of the real subsets, synthetic sets and classifiers, e.g. 0,1,2 (default 0)")
    p.add_argument("-e", "--epochs", dest="clf_epochs", type=cli.positive_int, default=None,
                   help="classifier epochs (profile; the original: 50)")
    p.add_argument("--steps-per-epoch", dest="clf_steps_per_epoch", type=cli.positive_int, default=None,
                   help="classifier updates per epoch, the same for every experiment (profile: 937 = 60000/64)")
    p.add_argument("--mix", dest="mixes", default=None,
                   help="comma-separated REAL+SYNTHETIC counts of the grid (profile: the original's)")
    p.add_argument("--low-data", dest="low_data", default=None,
                   help="comma-separated REAL+SYNTHETIC low-data runs; each also runs REAL alone; 0+N = the "
                        "synthetic images alone ('' = none)")
    p.add_argument("--low-data-mixing", default=None,
                   help=f"comma-separated ways to mix the low-data runs' synthetic images, among {', '.join(MIXING)} "
                        "(concat: the original's; share: --real-share real images in every batch; finetune: "
                        "synthetic first, then real only)")
    p.add_argument("--real-share", type=cli.bounded(float, 0, 1, low_open=True, high_open=True), default=None,
                   help="share of real images per batch for --low-data-mixing share (0.5)")
    p.add_argument("--sources", default=None,
                   help=f"comma-separated synthetic sources among {', '.join(SOURCES)} (default: those trained)")
    p.add_argument("--leaky-original-split", action="store_true",
                   help="also score on the original's leaky test split (A' + test; A' overlaps the training images)")
    p.add_argument("--reference-epochs", type=cli.positive_int, default=None,
                   help="epochs of the cached reference MNIST classifier (default: common.metrics' choice)")
    p.add_argument("--code-range", type=cli.bounded(float, 0, 4, low_open=True), default=None,
                   help="InfoGAN sets: sweep the continuous code over [-R, R], R in (0, 4] (profile: 2, the "
                        "original's; 1 = the trained range). R != 2 writes under RUN_DIR/code_range_<R>/")
    p.add_argument("--dropout", type=cli.bounded(float, 0, 1, high_open=True), default=None,
                   help="drop probability of the dense layers (0.8, the original)")
    return p


def seed_list(text):
    """'0,1,2' -> [0, 1, 2]: distinct seeds >= 0, in the order given."""
    try:
        seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not seeds or min(seeds) < 0 or max(seeds) >= 2**32 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds in [0, 2^32), got {text!r}")
    return seeds


def range_dir(run_dir, code_range):
    """RUN_DIR for the original's code range 2, else RUN_DIR/code_range_<r>: the sets differ, so their
    experiments must not replace each other."""
    default = PROFILES["paper"]["code_range"]
    return Path(run_dir) if code_range == default else Path(run_dir) / f"code_range_{code_range:g}"


def seed_dir(run_dir, seed, code_range=None):
    """Where one seed's experiments and summaries go: RUN_DIR itself for seed 0, else RUN_DIR/seed_<s>
    (under range_dir when the code range is not the original's)."""
    base = range_dir(run_dir, code_range) if code_range is not None else Path(run_dir)
    return base if seed == 0 else base / f"seed_{seed}"


def available_sources(run_dir, requested):
    run_dir = Path(run_dir)
    if requested:
        chosen = [s.strip() for s in requested.split(",") if s.strip()]
        bad = [s for s in chosen if s not in SOURCES]
        if bad:
            raise UserError(f"unknown source(s) {', '.join(bad)}; choose from {', '.join(SOURCES)}")
        return chosen
    have = {m for m in ("cgan", "infogan") if (run_dir / m / cli.STATE_FILE).exists()}
    return [s for s in SOURCES if s.split("_")[0] in have]


@cli.main
def main(argv=None):
    args = cli.parse_args(parser(), argv, PROFILES)
    config = cli.resolve(args, PROFILES)
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory {run_dir} does not exist; train first with python -m cgan_infogan.train")
    from cgan_infogan.synthetic import require_mnist
    require_mnist(run_dir, "cgan_infogan.evaluate")
    from common import datasets
    root = datasets.data_dir(config.get("data_dir"))
    train = datasets.load("mnist", "train", root)
    test = datasets.load("mnist", "test", root)
    n_real = len(train.images)
    mixes = parse_mixes(config["mixes"], n_real, "--mix")
    low = parse_mixes(config["low_data"], n_real, "--low-data")
    config["low_data_mixing"] = mixing_list(config["low_data_mixing"])
    sources = available_sources(run_dir, config.get("sources"))
    if not sources:     # a real-only grid written into an empty or unrelated folder would look like a result
        raise UserError(f"{run_dir} holds no trained cgan/ or infogan/ (no state.json); pass the folder "
                        "python -m cgan_infogan.train wrote")
    from cgan_infogan import synthetic as synth   # evaluate_seed's `synthetic` holds the sets
    for s in sources:
        synth.model_dir(run_dir, s.split("_")[0])     # fails early, in one line, if a model is missing
    # Synthetic sets: one per source, as large as the largest request; experiments use balanced prefixes.
    need = max([syn for _, syn in mixes + low] or [0])
    predictor = {}

    def reference():
        if "predict" not in predictor:
            predictor["predict"] = synth.reference_predict(root, config.get("reference_epochs"))
        return predictor["predict"]
    loaded = {m: synth.load_gan(run_dir, m) for m in dict.fromkeys(s.split("_")[0] for s in sources)}
    speed, by_seed = throughput(run_dir), {}
    for seed in config["seeds"]:
        if len(config["seeds"]) > 1:
            print(f"=== seed {seed} -> {seed_dir(run_dir, seed, config['code_range'])}", flush=True)
        by_seed[seed] = evaluate_seed(run_dir, {**config, "seed": seed}, args.leaky_original_split, train, test,
                                      mixes, low, sources, need, loaded, reference, speed)
    if len(by_seed) > 1:
        write_seed_summary(range_dir(run_dir, config["code_range"]), config, by_seed)


def evaluate_seed(run_dir, config, leaky, train, test, mixes, low, sources, need, loaded, reference, speed):
    """One seed's experiments (real subsets, synthetic sets, classifiers) into seed_dir(run_dir, seed)."""
    from cgan_infogan import synthetic as synth   # evaluate_seed's `synthetic` holds the sets
    out = seed_dir(run_dir, config["seed"], config["code_range"])
    out.mkdir(parents=True, exist_ok=True)
    n_real = len(train.images)
    rng = np.random.default_rng(config["seed"])
    order = rng.permutation(n_real)                       # real subsets are prefixes of one permutation
    test_idx = np.arange(len(test.images))
    if config.get("test_limit"):
        test_idx = np.sort(rng.permutation(len(test.images))[:config["test_limit"]])

    synthetic, gen_info = {}, {}
    for s in sources:
        model_name = s.split("_")[0]
        swept = "" if model_name == "cgan" or config["code_range"] == 2.0 else f"_r{config['code_range']:g}"
        cache = run_dir / "synthetic" / f"{s}_{need}_e{loaded[model_name][1]}_s{config['seed']}{swept}.npz"
        if cache.exists():
            with np.load(cache) as f:
                synthetic[s] = (f["images"], f["labels"])
                gen_info[s] = json.loads(str(f["info"]))
        else:
            import keras
            keras.utils.set_random_seed(config["seed"])
            synth.reseed(loaded[model_name][0], config["seed"])
            images, labels, info = synth.synthetic_set(run_dir, s, need, reference, loaded[model_name],
                                                          config["code_range"])
            check = min(len(images), 2000)
            info["reference_classifier_label_accuracy"] = float(np.mean(reference()(images[:check]) == labels[:check]))
            info["label_accuracy_images"] = int(check)
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
            np.savez_compressed(tmp, images=images, labels=labels, info=json.dumps(info))
            os.replace(tmp, cache)
            synth.preview(images, labels, cache.with_suffix(".png"))
            synthetic[s], gen_info[s] = (images, labels), info
        print(f"synthetic {s}: {need} images, {json.dumps(gen_info[s])}")

    base = {"lr": 1e-3, "batch_size": config["batch_size"], "epochs": config["clf_epochs"],
            "steps_per_epoch": config["clf_steps_per_epoch"], "dropout": config["dropout"], "seed": config["seed"],
            "weight_decay": "not applied (the original's config lists 1e-5 but never uses it)",
            "profile": config["profile"], "test_limit": config.get("test_limit"),
            "heldout_limit": config.get("heldout_limit")}
    plans = []                                            # (group, source, real, syn)
    for real, syn in mixes:
        plans += [("grid", "real", real, 0)] if syn == 0 else [("grid", s, real, syn) for s in sources]
    for real, syn in low:
        if real:       # 0+N: the synthetic images alone, what they are worth without real ones
            plans.append(("low_data", "real", real, 0))
        plans += [("low_data", s, real, syn, m) for s in sources if syn
                  for m in (config["low_data_mixing"] if real else ["concat"])]
    experiments = {}                                      # name -> (group, source, real, syn, mixing)
    for group, source, real, syn, *mixing in plans:
        mixing = mixing[0] if mixing and syn else "concat"
        name = experiment_name(source, real, syn, n_real, group == "grid") + mixing_suffix(mixing, config)
        experiments.setdefault(name, (group, source, real, syn, mixing))
    # a classifier per experiment, minutes each: the ETA counts the ones still to train
    results, progress = [], Progress(len(experiments))
    for name, (group, source, real, syn, mixing) in experiments.items():
        real_idx, rest = order[:real], order[real:]
        heldout = rest if not config.get("heldout_limit") else np.sort(rng_for(config["seed"], name).permutation(rest)[:config["heldout_limit"]])
        real_set = (train.images[real_idx], train.labels[real_idx])
        synthetic_set = (synthetic[source][0][:syn], synthetic[source][1][:syn]) if syn else None
        eval_sets = {"test": (test.images[test_idx], test.labels[test_idx], f"official MNIST test set ({len(test_idx)} images)"),
                     "heldout_real_train": (train.images[heldout], train.labels[heldout],
                                            f"{len(heldout)} real training images not used for training")}
        if leaky:
            # The original: A' = the first part of a second, independent random_split of the 60k, as
            # large as the share replaced by synthetic images (60000 s = syn), + the test set.
            leak = rng_for(config["seed"], "leak" + name).permutation(n_real)[:syn]
            overlap = int(np.isin(leak, real_idx).sum())
            eval_sets["original_leaky_split"] = (
                np.concatenate([train.images[leak], test.images]), np.concatenate([train.labels[leak], test.labels]),
                f"the original's test split: {len(leak)} train images ({overlap} of them trained on) + 10k test")
        exp_config = {**base, "experiment": name, "group": group, "source": source, "real_images": real,
                      "synthetic_images": syn, "synthetic": gen_info.get(source), "leaky": leaky}
        if mixing != "concat":     # only then: finished concat experiments keep matching their config
            exp_config.update(mixing=mixing, **({"real_share": config["real_share"]} if mixing == "share" else {}))
        print(f"== {name}: {real} real + {syn} {source if syn else ''} synthetic"
              + (f" ({mixing})" if mixing != "concat" else ""), flush=True)
        stored = finished(out / "experiments" / name, exp_config)
        metrics = run_experiment(out / "experiments" / name, exp_config, (real_set, synthetic_set), eval_sets)
        results.append({"experiment": name, "group": group, "source": source, "real": real, "synthetic": syn,
                        "mixing": mixing,
                        "paper_accuracy": PAPER.get((source, round(syn / (real + syn), 2))) if group == "grid" else None,
                        **metrics})
        progress.step(f"{name}: test accuracy {metrics['accuracy']:.4f}" + (" (stored)" if stored else ""),
                      skipped=stored)
    write_summary(out, config, results, gen_info, speed, {m: loaded[m][1] for m in loaded})
    return results


def rng_for(seed, name):
    import zlib
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def throughput(run_dir):
    """{model: common.throughput entry} of the run's trained models (older runs' files converted)."""
    from common import throughput as records
    return {m: t for m, t in records.read(run_dir).items() if m in ("cgan", "infogan")}


def baseline_of(r, results):
    """The real-only experiment that `r` is compared with: the one of the same real count in the
    low-data runs, the grid's own in the grid."""
    for b in results:
        if b["synthetic"] == 0 and b["group"] == r["group"] and (r["group"] == "grid" or b["real"] == r["real"]):
            return b


def write_summary(run_dir, config, results, gen_info, speed, gan_epochs):
    cli.write_json_atomic(run_dir / "metrics.json", {
        "profile": config["profile"], "seed": config["seed"], "code_range": config.get("code_range"),
        "experiments": results, "synthetic": gen_info,
        "gan_training_throughput": speed,
        "note": "accuracy = official 10k MNIST test set; heldout_real_train = real training images not "
                "trained on; paper_accuracy = the original's figure on its leaky split"})
    lines = [f"# CGAN / InfoGAN augmentation ({config['profile']} profile, seed {config['seed']})", "",
             "| experiment | real | synthetic | test acc | macro F1 | held-out real acc | leaky split acc | paper (leaky) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        held = r.get("heldout_real_train", {}).get("accuracy")
        leak = r.get("original_leaky_split", {}).get("accuracy")
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"| {r['experiment']} | {r['real']} | {r['synthetic']} | {r['accuracy']:.4f} | {r['f1_score']:.4f} "
                     f"| {fmt(held)} | {fmt(leak)} | {fmt(r['paper_accuracy'])} |")
    lines.append("")
    for s, info in gen_info.items():
        if "mapping_accuracy" in info:
            lines.append(f"- {s}: code->digit {info['code_to_digit']}, mapping accuracy {info['mapping_accuracy']:.4f}, "
                         f"swept code over [-{info.get('code_range', 2.0):g}, {info.get('code_range', 2.0):g}]")
        lines.append(f"- {s}: reference-classifier accuracy on its labels {info['reference_classifier_label_accuracy']:.4f}")
    for m, t in speed.items():
        lines.append(f"- {m} training throughput: {t['images_per_s']:.1f} images/s ({t['steps']} steps of {t['batch_size']})")
    (run_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    # Each seed's rows carry that seed, so that common.summary pools a --seed 0,1,2 evaluation into
    # one scoreboard row (the mean) per claim; a claim names its GAN's and its classifier's epochs,
    # so that runs of other budgets sit side by side.
    rows = []
    for r in results:
        what = ("real only" if not r["synthetic"] else
                f"{r['source']} after {gan_epochs[r['source'].split('_')[0]]} GAN epochs") + f", {r['real']} real + {r['synthetic']} synthetic"
        if r.get("mixing", "concat") != "concat":      # the original's concatenation keeps its claim text
            what += ", " + ("synthetic then real fine-tuning" if r["mixing"] == "finetune"
                            else f"{round(100 * config['real_share'])} % real per batch")
        what += f", {config['clf_epochs']} classifier epochs"
        rows.append({"paper": "CGAN/InfoGAN", "metric": f"CNN test accuracy, {what} (official 10k MNIST test)",
                     "paper_value": r["paper_accuracy"], "value": r["accuracy"],
                     "notes": f"{config['profile']} profile, {config['clf_epochs']}x{config['clf_steps_per_epoch']} classifier steps; "
                              "paper value is on its leaky test split"})
        base = baseline_of(r, results) if r["synthetic"] else None
        if base:
            rows.append({"paper": "CGAN/InfoGAN", "metric": f"test-accuracy gain over real only (points), {what}",
                         "paper_value": None, "value": round(100 * (r["accuracy"] - base["accuracy"]), 4),
                         "target": GAIN_TARGETS.get((r["real"], r["synthetic"])),
                         "notes": f"minus {base['experiment']} of the same seed"})
    for s, info in gen_info.items():
        if "mapping_accuracy" in info:
            rows.append({"paper": "CGAN/InfoGAN", "metric": f"InfoGAN code->digit mapping accuracy after {gan_epochs['infogan']} epochs (reference classifier)",
                         "paper_value": None, "value": info["mapping_accuracy"], "notes": f"codes->digits {info['code_to_digit']}"})
            break
    if "cgan" in gen_info:
        rows.append({"paper": "CGAN/InfoGAN", "metric": f"CGAN label accuracy of generated digits after {gan_epochs['cgan']} epochs (reference classifier)",
                     "paper_value": None, "value": gen_info["cgan"]["reference_classifier_label_accuracy"], "notes": ""})
    for m, t in speed.items():
        rows.append({"paper": "CGAN/InfoGAN", "metric": f"{m} training throughput (images/s)", "paper_value": None,
                     "value": t["images_per_s"], "notes": "wall clock of fit incl. tracing and checkpoints"})
    cli.write_headline(run_dir, [dict(row, seeds=str(config["seed"])) for row in rows])


def write_seed_summary(run_dir, config, by_seed):
    """seeds.json and seeds.md: each experiment's accuracy and gain over real only, mean +- std over seeds."""
    seeds = list(by_seed)

    def stats(values):
        if None in values:      # e.g. no held-out images when all 60k real images trained
            return None
        v = np.array(values, float)
        return {"per_seed": dict(zip(map(str, seeds), v.round(6).tolist())), "mean": float(v.mean()),
                "std": float(v.std(ddof=1))}

    def acc(r, key):
        return r["accuracy"] if key == "test" else r.get(key, {}).get("accuracy")

    rows = []
    for i, first in enumerate(by_seed[seeds[0]]):
        runs = [by_seed[s][i] for s in seeds]
        row = {k: first[k] for k in ("experiment", "group", "source", "real", "synthetic")}
        row["test_accuracy"] = stats([acc(r, "test") for r in runs])
        row["heldout_accuracy"] = stats([acc(r, "heldout_real_train") for r in runs])
        bases = [baseline_of(r, by_seed[s]) for r, s in zip(runs, seeds)]
        if first["synthetic"] and all(bases):
            row["baseline"] = bases[0]["experiment"]
            for name, key in (("gain_points", "test"), ("heldout_gain_points", "heldout_real_train")):
                pairs = [(acc(r, key), acc(b, key)) for r, b in zip(runs, bases)]
                row[name] = stats([None if None in p else 100 * (p[0] - p[1]) for p in pairs])
        rows.append(row)
    cli.write_json_atomic(run_dir / "seeds.json", {"profile": config["profile"], "seeds": seeds, "experiments": rows,
                                                   "note": "std: sample standard deviation (ddof 1) over the seeds; "
                                                           "gains in accuracy points vs the baseline experiment"})
    fmt = lambda st, d=4, sign="": "-" if st is None else f"{st['mean']:{sign}.{d}f} +- {st['std']:.{d}f}"  # noqa: E731
    lines = [f"# CGAN / InfoGAN augmentation over seeds {', '.join(map(str, seeds))} ({config['profile']} profile)", "",
             "mean +- std (ddof 1) over the seeds; gain = points over the real-only run it is compared with", "",
             "| experiment | real | synthetic | test acc | held-out real acc | gain vs | test gain, points | held-out gain, points |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gain = [r.get("baseline", "-")] + [fmt(r[k], 2, "+") + " (" + ", ".join(f"{v:+.2f}" for v in r[k]["per_seed"].values()) + ")"
                                           if r.get(k) else "-" for k in ("gain_points", "heldout_gain_points")]
        lines.append(f"| {r['experiment']} | {r['real']} | {r['synthetic']} | {fmt(r['test_accuracy'])} "
                     f"| {fmt(r['heldout_accuracy'])} | " + " | ".join(gain) + " |")
    (run_dir / "seeds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
