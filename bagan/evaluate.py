"""Evaluate a BAGAN result directory with the paper's protocol (Mariani et al. 2018, section 5).

    python bagan/evaluate.py results/bagan/res_MNIST_dmode_uniform_..._seed_0

(a) accuracy of the generated images of each trained class, judged by a reference classifier trained
    once on the full balanced training set (common.metrics.classifier, cached);
(a') D's own class accuracy (argmax over the real classes) on each class's held-out real test
    images and on its generated ones: G is trained to satisfy D, and where D's notion of a class
    does not carry to new real images, G's images were measured not to either (issue #20);
(b) variability: mean SSIM of random pairs of generated images against pairs of real images of the
    class, and novelty: mean SSIM of each generated image to its nearest real training image;
(c) test accuracy (overall, mean over classes, and on the minority classes: the pruned target
    class, or the ten rarest of a run on the natural imbalance) of a classifier trained on the
    imbalanced set as it is ("plain"), with the target class -- or, for a run on the natural
    imbalance, every class -- filled up to the largest class's count by horizontal mirrors
    ("mirror"), by BAGAN images ("bagan") and, beyond the paper, by copies of the class's own images
    ("copies": random oversampling, the baseline that tells whether G's images add anything);
plus the latent sampler's throughput against the original's per-sample sampling, and for a run on
the natural imbalance a grid of the ten rarest classes (real and generated rows, rarest_classes.png).
Writes RUN_DIR/metrics.json, RUN_DIR/metrics.md and RUN_DIR/headline.json.
"""

import json
import time
from pathlib import Path

import numpy as np

from common import cli
from common.progress import Progress
from bagan.sampling import Discriminator, Generator, load_run, trained_tags

# Per profile: generated images per class, SSIM pairs, real images kept for nearest-real SSIM, the
# epochs of the classifiers of part (c), and the latents of the sampler's timing (the original's
# per-sample draws, an SVD each, took 75 ms apiece on a loaded CPU: 23 s of a smoke evaluation).
PROFILES = {
    "paper": dict(n_generated=1000, n_pairs=1000, n_real=1000, clf_epochs=5, n_latents=2000),
    "quick": dict(n_generated=500, n_pairs=500, n_real=300, clf_epochs=2, n_latents=2000),
    "smoke": dict(n_generated=16, n_pairs=8, n_real=8, clf_epochs=1, n_latents=20),
}
# What a dataset changes in a profile (common.cli.profile_values), as bagan/profiles.py's table.
# GTSRB: 3,921 training images give the plain classifier 31 steps per epoch (MNIST's 24k: 170), so
# 2 epochs leave it untrained; 40 epochs took the same CNN to test accuracy 0.921 (15: 0.855) in 81 s
# on the loaded 2-core CPU (util 1), so plain + mirror + BAGAN (3,921 + 2 x 9,675 images) ~7 min there
# (+ copies, 9,675 more: ~2.5 min alone).
DATASET_PROFILES = {"GTSRB": {"quick": dict(clf_epochs=40)}}
RAREST = 10          # the minority classes of a run on the natural imbalance (part (c), the grid)
# Paper values (Figs. 7-9, read from the vector bar charts) for MNIST at 95 % drop (u = 0.05).
PAPER_MNIST_95 = {"generated_accuracy": 0.998, "ssim_generated": 0.317, "ssim_real": 0.307,
                  "minority_accuracy_plain": 0.979, "minority_accuracy_mirror": 0.973,
                  "minority_accuracy_bagan": 0.979}
# ... and for GTSRB with its natural imbalance (REFERENCE.md 1f): test accuracy of the classifier
PAPER_GTSRB = {"generated_accuracy": 0.994, "ssim_generated": 0.177, "ssim_real": 0.082,
               "accuracy_plain": 0.963, "accuracy_mirror": 0.927, "accuracy_bagan": 0.968}


def parser():
    p = cli.ArgumentParser(prog="bagan/evaluate.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a res_... directory written by bagan/train.py")
    p.add_argument("--profile", choices=tuple(PROFILES), default=None,
                   help="sample sizes (default: the profile the run was trained with)")
    p.add_argument("--data-dir", default=None, help="dataset root (default: the run's, $GAN_DATA_DIR, ./data)")
    p.add_argument("--n-generated", type=cli.positive_int, default=None, help="images per class (profile)")
    p.add_argument("--skip-classifiers", action="store_true", help="skip part (c)")
    p.add_argument("--phase", choices=("gan", "init"), default="gan",
                   help="init = evaluate the generator as initialised from the autoencoder (decoder + "
                        "class Gaussians, before adversarial training); writes metrics_init.*")
    p.add_argument("-s", "--seed", type=cli.seed, default=0)
    return p


def copies_fill(images, n, rng):
    """n copies of randomly chosen images (random oversampling: the no-generator baseline)."""
    return images[rng.integers(0, len(images), n)]


def mirror_fill(images, n, rng):
    """n horizontally mirrored copies of randomly chosen images (the paper's mirroring baseline)."""
    return copies_fill(images, n, rng)[:, :, ::-1]


def rarest_classes(labels, num_classes, n=RAREST):
    """The n classes with the fewest images (ties: the lower class), rarest first."""
    counts = np.bincount(labels, minlength=num_classes)
    return np.argsort(counts, kind="stable")[:min(n, num_classes)]


def rebalance_classifiers(train_x, train_y, test_x, test_y, targets, minority, generator, num_classes,
                          epochs, seed):
    """Part (c): the same small CNN trained on the imbalanced set plain / mirrored / with BAGAN
    images / with copies, each of the `targets` classes filled up to the largest class's count;
    accuracies on the real test set: overall, mean over classes (each class's recall), and on the
    `minority` classes. The copies are drawn after BAGAN's images, so those stay the same images
    (and scores) as before the copies arm existed."""
    from common.metrics.classifier import predict_classes, train_classifier
    counts = np.bincount(train_y, minlength=num_classes)
    fill = np.concatenate([np.full(counts.max() - counts[c], c) for c in targets]).astype(train_y.dtype)
    rng = np.random.default_rng(seed)
    mirrored = [mirror_fill(train_x[train_y == c], int(np.sum(fill == c)), rng) for c in targets]
    generated = generator(fill, rng) if len(fill) else train_x[:0]
    copies = [copies_fill(train_x[train_y == c], int(np.sum(fill == c)), rng) for c in targets]
    sets = {"plain": (train_x, train_y),
            "mirror": (np.concatenate([train_x, *mirrored]), np.concatenate([train_y, fill])),
            "bagan": (np.concatenate([train_x, generated]), np.concatenate([train_y, fill])),
            "copies": (np.concatenate([train_x, *copies]), np.concatenate([train_y, fill]))}
    in_minority = np.isin(test_y, minority)
    present = np.unique(test_y)
    results = {}
    progress = Progress(len(sets), work=sum(len(x) for x, _ in sets.values()))     # time grows with the images
    for name, (x, y) in sets.items():
        print(f"classifier {name}: training on {len(x)} images for {epochs} epochs", flush=True)
        start = time.time()
        model = train_classifier(x, y, num_classes, epochs=epochs, seed=seed, verbose="auto")
        correct = predict_classes(model, test_x) == test_y
        results[name] = {"minority_accuracy": float(np.mean(correct[in_minority])),
                         "overall_accuracy": float(np.mean(correct)),
                         "mean_class_accuracy": float(np.mean([np.mean(correct[test_y == c]) for c in present])),
                         "train_images": int(len(x)), "seconds": round(time.time() - start, 1)}
        progress.step(f"classifier {name}: minority {results[name]['minority_accuracy']:.4f}, "
                      f"overall {results[name]['overall_accuracy']:.4f}", work=len(x))
    return results


def rarest_grid(path, train_x, train_y, generator, num_classes, rng, title, cols=8):
    """Two rows per rare class, rarest first: `cols` real training images (repeated when the class
    has fewer), then `cols` generated ones."""
    from common import plots
    counts = np.bincount(train_y, minlength=num_classes)
    rows, labels = [], []
    for c in rarest_classes(train_y, num_classes):
        real = train_x[train_y == c]
        rows += [real[np.arange(cols) % len(real)], generator(np.full(cols, c), rng)]
        labels += [f"{c} real (n={counts[c]})", f"{c} generated"]
    plots.image_grid(np.stack(rows), path, row_labels=labels, title=title)


def sampler_throughput(sampler, n=2000, seed=0):
    """Latents per second: the vectorised Cholesky sampler against the original's per-sample
    np.random.multivariate_normal (measured on fewer samples, it is slow)."""
    labels = np.random.default_rng(seed).integers(0, len(sampler.means), n)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    sampler.sample(labels, rng)
    fast = n / (time.perf_counter() - start)
    m = min(n, 300)
    start = time.perf_counter()
    sampler.sample_per_sample(labels[:m], rng)
    slow = m / (time.perf_counter() - start)
    return {"vectorised_latents_per_s": round(fast, 1), "per_sample_latents_per_s": round(slow, 1),
            "speedup": round(fast / slow, 1), "n": n}


def markdown(metrics):
    judged = "mean_d_accuracy_real_test" in metrics          # D's columns (BAGAN, adversarial phase)
    lines = [f"# BAGAN evaluation of `{metrics['run_dir']}`", "",
             "| class | train images | generated acc. | SSIM gen. pairs | SSIM real pairs | SSIM nearest real |"
             + (" D on generated | D on real test |" if judged else ""),
             "|---|---|---|---|---|---|" + ("---|---|" if judged else "")]
    for k, row in metrics["per_class"].items():
        lines.append(f"| {k} | {row['train_images']} | {row['generated_accuracy']:.4f} | "
                     f"{row['ssim_generated_pairs']:.3f} | {row['ssim_real_pairs']:.3f} | "
                     f"{row['ssim_nearest_real']:.3f} |"
                     + (f" {row['d_accuracy_generated']:.3f} | {row['d_accuracy_real_test']:.3f} |" if judged else ""))
    lines.append(f"| mean | | {metrics['mean_generated_accuracy']:.4f} | {metrics['mean_ssim_generated_pairs']:.3f} | "
                 f"{metrics['mean_ssim_real_pairs']:.3f} | |"
                 + (f" {metrics['mean_d_accuracy_generated']:.3f} | {metrics['mean_d_accuracy_real_test']:.3f} |"
                    if judged else ""))
    if judged:
        lines += ["", "D on generated / real test: D's own class accuracy (its most probable real class) on the "
                      "generated images and on the held-out real test images of each class"]
    for tag, clf in metrics.get("classifiers", {}).items():
        filled = f"target class {tag}" if tag != "all" else f"every class; minority = the {RAREST} rarest"
        lines += ["", f"Classifier trained on the imbalanced set ({filled}):", "",
                  "| training set | minority test acc. | overall test acc. | mean class acc. | train images |",
                  "|---|---|---|---|---|"]
        for name, r in clf.items():
            lines.append(f"| {name} | {r['minority_accuracy']:.4f} | {r['overall_accuracy']:.4f} | "
                         f"{r['mean_class_accuracy']:.4f} | {r['train_images']} |")
    ref = metrics.get("reference_classifier_test_accuracy")
    if ref is not None:
        lines += ["", f"Reference classifier test accuracy: {ref:.4f}"]
    return "\n".join(lines) + "\n"


def reference_accuracy_info(name, load_options):
    """The cached reference classifier's recorded test accuracy (json written beside it)."""
    from common import datasets
    found = sorted((datasets.cache_dir() / "classifiers").glob(f"{Path(str(name)).name.lower()}-*.json"),
                   key=lambda p: p.stat().st_mtime)
    for path in reversed(found):
        info = json.loads(path.read_text())
        if info.get("load_options", {}) == load_options:
            return info.get("test_accuracy")
    return None


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    run_dir = Path(args.run_dir)
    config = load_run(run_dir)
    tags = trained_tags(run_dir)
    profile = cli.profile_values(PROFILES, args.profile or config.get("profile", "quick"), config["dataset"],
                                 DATASET_PROFILES)
    if args.n_generated:
        profile["n_generated"] = args.n_generated
    from bagan.run import load_data, training_subset
    from common import datasets
    from common.metrics import classifier as clf_metrics
    from common.metrics import ssim
    data_dir = datasets.data_dir(args.data_dir or config.get("data_dir"))
    train, test = load_data(config, data_dir)
    train = training_subset(train, config)
    k = config["num_classes"]
    key = str(config["dataset"]).lower()
    load_options = {"size": config.get("size") or 32} if key == "gtsrb" else (
        {"size": config["size"]} if config.get("size") and key not in ("mnist", "cifar10") else {})
    folder = key not in ("mnist", "cifar10", "gtsrb")
    reference = clf_metrics.reference_classifier(config["dataset"] if folder else key,
                                                 Path(config["dataset"]).parent if folder else data_dir,
                                                 seed=0, **load_options)
    rng = np.random.default_rng(args.seed)
    metrics = {"run_dir": str(run_dir), "profile": profile, "per_class": {}, "classifiers": {},
               "reference_classifier_test_accuracy": reference_accuracy_info(
                   key if key in ("mnist", "cifar10", "gtsrb") else config["dataset"], load_options)}
    n = profile["n_generated"]
    classes_of = {tag: [int(tag)] if tag != "all" else list(range(k)) for tag in tags}
    # SSIM to the nearest of n_real real images: n x n_real SSIMs per class, seconds to minutes
    progress = Progress(sum(map(len, classes_of.values())), "SSIM and accuracy")
    for tag in tags:
        generator = Generator(run_dir, config, tag, args.phase)
        judge = Discriminator(run_dir, config, tag) if args.phase == "gan" else None   # init: D's head is random
        kept = np.load(run_dir / f"{tag}_kept_indices.npy")
        ty = train.labels[kept]
        for c in classes_of[tag]:
            fake = generator(np.full(n, c), rng)
            real_all = train.images[train.labels == c]          # before pruning: the paper's reference
            real_kept = train.images[kept][ty == c]
            real_kept = real_kept[rng.permutation(len(real_kept))[:profile["n_real"]]]
            row = {"train_images": int(np.sum(ty == c)),
                   "generated_accuracy": clf_metrics.generated_accuracy(reference, fake, np.full(n, c)),
                   "ssim_generated_pairs": ssim.pairwise_ssim(fake, profile["n_pairs"], seed=args.seed),
                   "ssim_real_pairs": ssim.pairwise_ssim(real_all, profile["n_pairs"], seed=args.seed)
                   if len(real_all) > 1 else float("nan"),
                   "ssim_nearest_real": ssim.nearest_real_ssim(fake[:min(n, profile["n_real"])], real_kept)}
            if judge is not None and judge.available:
                held_out = test.images[test.labels == c]
                row["d_accuracy_generated"] = float(np.mean(judge(fake) == c))
                row["d_accuracy_real_test"] = float(np.mean(judge(held_out) == c)) if len(held_out) else float("nan")
            metrics["per_class"][str(c)] = row
            progress.step(f"class {c}: {row}")
        if tag == "all":
            rarest_grid(run_dir / f"rarest_classes{'' if args.phase == 'gan' else '_init'}.png",
                        train.images[kept], ty, generator, k, rng,
                        title=f"the {RAREST} rarest classes: real, then generated")
        if not args.skip_classifiers:
            # a pruned run fills its target class; a run on the natural imbalance every class
            targets = [int(tag)] if tag != "all" else list(range(k))
            minority = [int(tag)] if tag != "all" else list(rarest_classes(ty, k))
            metrics["classifiers"][tag] = rebalance_classifiers(
                train.images[kept], ty, test.images, test.labels, targets, minority, generator, k,
                profile["clf_epochs"], args.seed)
        if generator.sampler is not None:
            metrics.setdefault("sampler", sampler_throughput(generator.sampler, profile["n_latents"]))
    from common import throughput
    speed = throughput.read(run_dir)
    if speed:
        metrics["training_throughput"] = speed
    per_class = metrics["per_class"].values()
    for key in ("generated_accuracy", "ssim_generated_pairs", "ssim_real_pairs", "d_accuracy_generated",
                "d_accuracy_real_test"):
        if all(key in r for r in per_class):
            metrics[f"mean_{key}"] = float(np.nanmean([r[key] for r in per_class]))
    suffix = "" if args.phase == "gan" else "_init"
    metrics["phase"] = args.phase
    cli.write_json_atomic(run_dir / f"metrics{suffix}.json", metrics)
    (run_dir / f"metrics{suffix}.md").write_text(markdown(metrics))
    if args.phase == "gan":
        cli.write_headline(run_dir, headline(config, metrics))
    print(markdown(metrics))
    return metrics


# The adversarial options a claim names when a run's value differs from its profile's (key: how to say it)
OPTION_NAMES = {"d_warmup": lambda v: f"D warm-up {v:,} steps" if v else "no D warm-up",
                "ms_lambda": lambda v: f"mode-seeking lambda {v:g}", "d_lr_scale": lambda v: f"D's learning rate x{v:g}",
                "trunk": lambda v: f"{v} trunk for E and D",
                "real_sampling": lambda v: f"{v} real batches", "loss": lambda v: f"{v} cross-entropy"}


def options_suffix(config):
    """The options of a run that differ from its profile's, named in its claims so that its rows
    stand beside the profile's on the scoreboard instead of replacing them."""
    from bagan.profiles import DATASET_PROFILES as TRAIN_BY_DATASET
    from bagan.profiles import PROFILES as TRAIN_PROFILES
    profile = config.get("profile")
    if profile not in TRAIN_PROFILES:
        return ""
    default = cli.profile_values(TRAIN_PROFILES, profile, config["dataset"], TRAIN_BY_DATASET)
    # a key added after the run was written had its ADDED_KEYS value in that run
    used = {k: config.get(k, cli.ADDED_KEYS.get(k)) for k in OPTION_NAMES if k in config or k in cli.ADDED_KEYS}
    named = [OPTION_NAMES[k](v) for k, v in used.items() if v != default.get(k, cli.ADDED_KEYS.get(k))]
    return f" ({'; '.join(named)})" if named else ""


def headline(config, metrics):
    ds = str(config["dataset"]).lower()
    mnist95 = ds == "mnist" and abs(config["unbalance"] - 0.05) < 1e-9 and not config["keep_imbalance"]
    gtsrb = ds == "gtsrb" and config["keep_imbalance"]
    paper = PAPER_MNIST_95 if mnist95 else (PAPER_GTSRB if gtsrb else {})
    notes = f"profile {config.get('profile')}, width {config.get('width')}, {config['epochs']} GAN epochs"
    seeds = str(config.get("seed"))
    # targets of issue #20: MNIST at 95 % drop and GTSRB with its natural imbalance
    target_accuracy = ">= 0.95" if mnist95 else (">= 0.90" if gtsrb else None)
    rows = [{"paper": "BAGAN", "metric": f"generated-image accuracy by a reference CNN, {ds}",
             "paper_value": paper.get("generated_accuracy"),
             "value": metrics["mean_generated_accuracy"], "notes": notes, "target": target_accuracy,
             "seeds": seeds}]
    # the real pairs' value (it varies with the seed's subset) in the notes and a row of its own, not
    # in the claim: runs at other seeds then share the claim and pool on the scoreboard
    rows.append({"paper": "BAGAN", "metric": f"SSIM of generated pairs, {ds}",
                 "paper_value": paper.get("ssim_generated"), "value": metrics["mean_ssim_generated_pairs"],
                 "notes": f"{notes}; real pairs {metrics['mean_ssim_real_pairs']:.3f}",
                 "target": "<= 0.40" if mnist95 else None, "seeds": seeds})
    if "mean_d_accuracy_real_test" in metrics:     # the ceiling of the generated accuracy (module docstring)
        rows.append({"paper": "BAGAN", "metric": f"D's class accuracy on held-out real images, {ds}",
                     "paper_value": None, "value": metrics["mean_d_accuracy_real_test"],
                     "notes": f"{notes}; D on the generated images {metrics['mean_d_accuracy_generated']:.3f}",
                     "seeds": seeds})
    rows.append({"paper": "BAGAN", "metric": f"SSIM of real pairs, {ds}", "paper_value": paper.get("ssim_real"),
                 "value": metrics["mean_ssim_real_pairs"], "notes": notes, "seeds": seeds})
    for tag, clf in metrics["classifiers"].items():
        if tag == "all":      # the natural imbalance, every class filled: the paper's overall accuracy
            for name in ("plain", "mirror", "bagan", "copies"):
                if name not in clf:       # evaluated before the copies arm existed
                    continue
                rows.append({"paper": "BAGAN", "metric": f"test accuracy, {name}, {ds}",
                             "paper_value": paper.get(f"accuracy_{name}"), "value": clf[name]["overall_accuracy"],
                             "notes": notes + ", small CNN", "seeds": seeds})
            rows.append({"paper": "BAGAN", "metric": f"test accuracy, BAGAN-rebalanced minus plain, {ds}",
                         "paper_value": (paper["accuracy_bagan"] - paper["accuracy_plain"]) if gtsrb else None,
                         "value": clf["bagan"]["overall_accuracy"] - clf["plain"]["overall_accuracy"],
                         "notes": notes + ", small CNN", "target": ">= 0", "seeds": seeds})
            continue
        for name in ("plain", "mirror", "bagan", "copies"):
            if name not in clf:
                continue
            rows.append({"paper": "BAGAN", "metric": f"minority-class {tag} test accuracy, {name}, {ds}",
                         "paper_value": PAPER_MNIST_95.get(f"minority_accuracy_{name}") if mnist95 else None,
                         "value": clf[name]["minority_accuracy"], "notes": notes + ", small CNN", "seeds": seeds})
        rows.append({"paper": "BAGAN", "metric": f"minority-class {tag} accuracy, BAGAN-rebalanced minus plain, {ds}",
                     "paper_value": (PAPER_MNIST_95["minority_accuracy_bagan"] - PAPER_MNIST_95["minority_accuracy_plain"])
                     if mnist95 else None,
                     "value": clf["bagan"]["minority_accuracy"] - clf["plain"]["minority_accuracy"],
                     "notes": notes + ", small CNN", "target": ">= 0", "seeds": seeds})
    suffix = options_suffix(config)
    for row in rows:
        row["metric"] += suffix
    return rows


if __name__ == "__main__":
    main()
