"""Why does a classifier rebalanced with BAGAN's images lose to plain on GTSRB? (issue #20, session 21)

    python scripts/bagan_rebalance_probe.py RUN_DIR --data-dir ../shared/data --brightness
    python scripts/bagan_rebalance_probe.py RUN_DIR --data-dir ../shared/data --arms bagan matched copies
    python scripts/bagan_rebalance_probe.py RUN_DIR --data-dir ../shared/data --arms d-filter
    python scripts/bagan_rebalance_probe.py RUN_DIR --data-dir ../shared/data --plain-seeds 1 2 3 4

RUN_DIR: a bagan/train.py run on the natural imbalance (`-D GTSRB --keep-imbalance`, tag "all").
--brightness: per class, mean pixel and per-pixel spread of real training images, generated ones and
held-out test images, and the all-class mean of the decoder + class Gaussians before the adversarial
phase. --arms: part (c)'s BAGAN classifier (bagan.evaluate, seed 0, the profile's epochs) re-trained
on the very same generated images (the evaluation's random path: "bagan" reproduces its score: the check that this path still matches the evaluation's) and
on variants of them: "matched" = each class's generated images moved to the per-channel mean and std
of its real training images; "d-filter" = every image BAGAN's own D does not give its class redrawn;
"copies" = copies of the class's own real images instead (another draw than the evaluation's arm).
--plain-seeds: the plain classifier at other seeds (its own spread). Prints one line per result.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from common import cli


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--brightness", action="store_true")
    p.add_argument("--arms", nargs="*", default=[], choices=("bagan", "matched", "d-filter", "copies"))
    p.add_argument("--plain-seeds", nargs="*", type=int, default=[])
    p.add_argument("--epochs", type=int, default=40, help="classifier epochs (bagan/evaluate.py's GTSRB quick profile)")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    from bagan.run import load_data, training_subset
    from bagan.sampling import Discriminator, Generator, load_run
    from common import datasets
    from common.metrics.classifier import predict_classes, train_classifier

    run = Path(args.run_dir)
    config = load_run(run)
    train, test = load_data(config, datasets.data_dir(args.data_dir))
    train = training_subset(train, config)
    kept = np.load(run / "all_kept_indices.npy")
    x, y = train.images[kept], train.labels[kept]
    k = config["num_classes"]
    epochs = args.epochs
    g = Generator(run, config, "all")
    counts = np.bincount(y, minlength=k)
    rare = np.argsort(counts, kind="stable")[:10]       # the ten rarest, as bagan/evaluate.py picks them

    def score(name, images, labels, seed=0):
        start = time.time()
        model = train_classifier(images, labels, k, epochs=epochs, seed=seed, verbose=0)
        ok = predict_classes(model, test.images) == test.labels
        in_rare = np.isin(test.labels, rare)
        print(f"{name}: overall {ok.mean():.4f}, mean class "
              f"{np.mean([ok[test.labels == c].mean() for c in np.unique(test.labels)]):.4f}, rarest ten "
              f"{ok[in_rare].mean():.4f} ({in_rare.sum()} test images; {time.time() - start:.0f} s)", flush=True)

    if args.brightness:
        rng = np.random.default_rng(0)
        print("class n real_mean gen_mean test_mean real_pixstd gen_pixstd rare")
        for c in range(k):
            r, f = x[y == c].astype(float), g(np.full(200, c), rng).astype(float)
            t = test.images[test.labels == c].astype(float)
            print("%3d %4d %6.1f %6.1f %6.1f %6.1f %6.1f %s" % (c, len(r), r.mean(), f.mean(), t.mean(),
                  r.std(axis=0).mean(), f.std(axis=0).mean(), "*" if c in rare else ""))
        init = Generator(run, config, "all", "init")
        fi = np.concatenate([init(np.full(100, c), rng) for c in range(k)]).astype(float)
        fg = np.concatenate([g(np.full(100, c), rng) for c in range(k)]).astype(float)
        print("all classes, mean pixel: real", round(x.astype(float).mean(), 1), "decoder + class Gaussians",
              round(fi.mean(), 1), "after the adversarial phase", round(fg.mean(), 1))

    for seed in args.plain_seeds:
        score(f"plain, classifier seed {seed}", x, y, seed)

    if not args.arms:
        return
    targets = range(k)
    fill = np.concatenate([np.full(counts.max() - counts[c], c) for c in targets]).astype(y.dtype)
    rng = np.random.default_rng(0)
    for c in targets:    # the mirrored arm's draws (its mirror_fill), so that G's images are the evaluation's
        rng.integers(0, counts[c], int(np.sum(fill == c)))
    generated = g(fill, rng)
    for arm in args.arms:
        if arm == "bagan":
            images = generated
        elif arm == "matched":
            srng = np.random.default_rng(123)       # the moments from a separate draw of 500 per class
            images = generated.astype(np.float32).copy()
            for c in targets:
                r, s = x[y == c].astype(np.float32), g(np.full(500, c), srng).astype(np.float32)
                m = fill == c
                images[m] = (images[m] - s.mean((0, 1, 2))) / s.std((0, 1, 2)) * r.std((0, 1, 2)) + r.mean((0, 1, 2))
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        elif arm == "d-filter":
            judge = Discriminator(run, config, "all")
            images = generated.copy()
            bad = judge(images) != fill
            print(f"D rejects {bad.mean():.4f} of the first draw", flush=True)
            frng = np.random.default_rng(99)
            for _ in range(50):
                if not bad.any():
                    break
                idx = np.flatnonzero(bad)
                images[idx] = g(fill[idx], frng)
                bad[idx] = judge(images[idx]) != fill[idx]
        else:
            drng = np.random.default_rng(7)
            images = np.concatenate([x[y == c][drng.integers(0, counts[c], int(np.sum(fill == c)))]
                                     for c in targets])
        score(arm, np.concatenate([x, images]), np.concatenate([y, fill]))


if __name__ == "__main__":
    main()
