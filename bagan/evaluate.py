"""Evaluate a BAGAN result directory with the paper's protocol (Mariani et al. 2018, section 5).

    python bagan/evaluate.py results/bagan/res_MNIST_dmode_uniform_..._seed_0

(a) accuracy of the generated images of each trained class, judged by a reference classifier trained
    once on the full balanced training set (common.metrics.classifier, cached);
(b) variability: mean SSIM of random pairs of generated images against pairs of real images of the
    class, and novelty: mean SSIM of each generated image to its nearest real training image;
(c) for a run with one pruned target class: test accuracy (on the minority class and overall) of a
    classifier trained on the imbalanced set as it is ("plain"), with the minority class filled up
    to the majority count by horizontal mirrors ("mirror"), and by BAGAN images ("bagan");
plus the latent sampler's throughput against the original's per-sample sampling.
Writes RUN_DIR/metrics.json, RUN_DIR/metrics.md and RUN_DIR/headline.json.
"""

import json
import time
from pathlib import Path

import numpy as np

from common import cli
from common.progress import Progress
from bagan.sampling import Generator, load_run, trained_tags

# Per profile: generated images per class, SSIM pairs, real images kept for nearest-real SSIM, and
# the epochs of the classifiers of part (c).
PROFILES = {
    "paper": dict(n_generated=1000, n_pairs=1000, n_real=1000, clf_epochs=5),
    "quick": dict(n_generated=500, n_pairs=500, n_real=300, clf_epochs=2),
    "smoke": dict(n_generated=16, n_pairs=8, n_real=8, clf_epochs=1),
}
# Paper values (Figs. 7-9, read from the vector bar charts) for MNIST at 95 % drop (u = 0.05).
PAPER_MNIST_95 = {"generated_accuracy": 0.998, "ssim_generated": 0.317, "ssim_real": 0.307,
                  "minority_accuracy_plain": 0.979, "minority_accuracy_mirror": 0.973,
                  "minority_accuracy_bagan": 0.979}


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


def mirror_fill(images, n, rng):
    """n horizontally mirrored copies of randomly chosen images (the paper's mirroring baseline)."""
    return images[rng.integers(0, len(images), n)][:, :, ::-1]


def rebalance_classifiers(train_x, train_y, test_x, test_y, target, generator, num_classes, epochs, seed):
    """Part (c): the same small CNN trained on the imbalanced set plain / mirrored / with BAGAN
    images for the target class, filled up to the majority count; accuracies on the real test set."""
    from common.metrics.classifier import predict_classes, train_classifier
    counts = np.bincount(train_y, minlength=num_classes)
    missing = int(counts.max() - counts[target])
    minority = train_x[train_y == target]
    rng = np.random.default_rng(seed)
    sets = {"plain": (train_x, train_y),
            "mirror": (np.concatenate([train_x, mirror_fill(minority, missing, rng)]),
                       np.concatenate([train_y, np.full(missing, target)])),
            "bagan": (np.concatenate([train_x, generator(np.full(missing, target), rng)]),
                      np.concatenate([train_y, np.full(missing, target)]))}
    results = {}
    progress = Progress(len(sets), work=sum(len(x) for x, _ in sets.values()))     # time grows with the images
    for name, (x, y) in sets.items():
        print(f"classifier {name}: training on {len(x)} images for {epochs} epochs", flush=True)
        start = time.time()
        model = train_classifier(x, y, num_classes, epochs=epochs, seed=seed, verbose="auto")
        pred = predict_classes(model, test_x)
        results[name] = {"minority_accuracy": float(np.mean(pred[test_y == target] == target)),
                         "overall_accuracy": float(np.mean(pred == test_y)),
                         "train_images": int(len(x)), "seconds": round(time.time() - start, 1)}
        progress.step(f"classifier {name}: minority {results[name]['minority_accuracy']:.4f}, "
                      f"overall {results[name]['overall_accuracy']:.4f}", work=len(x))
    return results


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
    lines = [f"# BAGAN evaluation of `{metrics['run_dir']}`", "",
             "| class | train images | generated acc. | SSIM gen. pairs | SSIM real pairs | SSIM nearest real |",
             "|---|---|---|---|---|---|"]
    for k, row in metrics["per_class"].items():
        lines.append(f"| {k} | {row['train_images']} | {row['generated_accuracy']:.4f} | "
                     f"{row['ssim_generated_pairs']:.3f} | {row['ssim_real_pairs']:.3f} | "
                     f"{row['ssim_nearest_real']:.3f} |")
    for tag, clf in metrics.get("classifiers", {}).items():
        lines += ["", f"Classifier trained on the imbalanced set (target class {tag}):", "",
                  "| training set | minority-class test acc. | overall test acc. | train images |",
                  "|---|---|---|---|"]
        for name, r in clf.items():
            lines.append(f"| {name} | {r['minority_accuracy']:.4f} | {r['overall_accuracy']:.4f} | "
                         f"{r['train_images']} |")
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
    profile = dict(PROFILES[args.profile or config.get("profile", "quick")])
    if args.n_generated:
        profile["n_generated"] = args.n_generated
    from bagan.run import load_data, training_subset
    from common import datasets, plots
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
            metrics["per_class"][str(c)] = row
            progress.step(f"class {c}: {row}")
        if tag == "all":     # a grid of the rarest classes: real images, then generated ones
            counts = np.bincount(ty, minlength=k)
            rarest = np.argsort(counts, kind="stable")[:min(5, len(counts))]
            rows, labels = [], []
            for c in rarest:
                real_c = train.images[kept][ty == c][:4]
                rows.append(np.concatenate([real_c[np.arange(4) % len(real_c)], generator(np.full(8, c), rng)]))
                labels.append(f"{c} (n={counts[c]})")
            plots.image_grid(np.stack(rows), run_dir / f"rarest_classes{'' if args.phase == 'gan' else '_init'}.png",
                             row_labels=labels,
                             title="rarest classes: 4 real, then 8 generated")
        elif not args.skip_classifiers:
            metrics["classifiers"][tag] = rebalance_classifiers(
                train.images[kept], ty, test.images, test.labels, int(tag), generator, k,
                profile["clf_epochs"], args.seed)
        if generator.sampler is not None:
            metrics.setdefault("sampler", sampler_throughput(generator.sampler))
    from common import throughput
    speed = throughput.read(run_dir)
    if speed:
        metrics["training_throughput"] = speed
    accs = [r["generated_accuracy"] for r in metrics["per_class"].values()]
    metrics["mean_generated_accuracy"] = float(np.mean(accs))
    suffix = "" if args.phase == "gan" else "_init"
    metrics["phase"] = args.phase
    cli.write_json_atomic(run_dir / f"metrics{suffix}.json", metrics)
    (run_dir / f"metrics{suffix}.md").write_text(markdown(metrics))
    if args.phase == "gan":
        cli.write_headline(run_dir, headline(config, metrics))
    print(markdown(metrics))
    return metrics


def headline(config, metrics):
    ds = str(config["dataset"]).lower()
    mnist95 = ds == "mnist" and abs(config["unbalance"] - 0.05) < 1e-9 and not config["keep_imbalance"]
    notes = f"profile {config.get('profile')}, width {config.get('width')}, {config['epochs']} GAN epochs"
    seeds = str(config.get("seed"))
    # targets of issue #20: MNIST at 95 % drop and GTSRB with its natural imbalance
    target_accuracy = ">= 0.95" if mnist95 else (">= 0.90" if ds == "gtsrb" else None)
    rows = [{"paper": "BAGAN", "metric": f"generated-image accuracy by a reference CNN, {ds}",
             "paper_value": PAPER_MNIST_95["generated_accuracy"] if mnist95 else (0.994 if ds == "gtsrb" else None),
             "value": metrics["mean_generated_accuracy"], "notes": notes, "target": target_accuracy,
             "seeds": seeds}]
    per_class = list(metrics["per_class"].values())
    rows.append({"paper": "BAGAN", "metric": f"SSIM of generated pairs (real pairs {np.mean([r['ssim_real_pairs'] for r in per_class]):.3f}), {ds}",
                 "paper_value": PAPER_MNIST_95["ssim_generated"] if mnist95 else (0.177 if ds == "gtsrb" else None),
                 "value": float(np.mean([r["ssim_generated_pairs"] for r in per_class])), "notes": notes,
                 "target": "<= 0.40" if mnist95 else None, "seeds": seeds})
    for tag, clf in metrics["classifiers"].items():
        for name in ("plain", "mirror", "bagan"):
            rows.append({"paper": "BAGAN", "metric": f"minority-class {tag} test accuracy, {name}, {ds}",
                         "paper_value": PAPER_MNIST_95[f"minority_accuracy_{name}"] if mnist95 else None,
                         "value": clf[name]["minority_accuracy"], "notes": notes + ", small CNN", "seeds": seeds})
        rows.append({"paper": "BAGAN", "metric": f"minority-class {tag} accuracy, BAGAN-rebalanced minus plain, {ds}",
                     "paper_value": (PAPER_MNIST_95["minority_accuracy_bagan"] - PAPER_MNIST_95["minority_accuracy_plain"])
                     if mnist95 else None,
                     "value": clf["bagan"]["minority_accuracy"] - clf["plain"]["minority_accuracy"],
                     "notes": notes + ", small CNN", "target": ">= 0", "seeds": seeds})
    return rows


if __name__ == "__main__":
    main()
