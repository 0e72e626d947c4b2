"""Evaluate a BEGAN run: M and k_t over training, a sample grid, FID beside KID against held-out real images.

    python -m began.evaluate results/began/celeba_32px_quick_seed0 --profile quick --data-dir ../shared/data

Writes RUN_DIR/convergence.png (M, k_t and the learning rate per step), RUN_DIR/eval_samples.png,
RUN_DIR/metrics.json, RUN_DIR/metrics.md and RUN_DIR/headline.json. FID/KID need common.metrics.fid;
without it they are reported as unavailable.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from common import cli, datasets
from common.cli import positive_int

FID_SAMPLES = {"smoke": 64, "quick": None, "paper": None}   # None: as many as held-out images


def convergence(run_dir):
    """First/last epoch means of M and the k_t trajectory, from losses.csv and steps.csv."""
    from common.training import LOSSES_CSV, STEPS_CSV      # TensorFlow only once the run is found
    epochs = pd.read_csv(Path(run_dir) / LOSSES_CSV)
    steps = pd.read_csv(Path(run_dir) / STEPS_CSV)
    first, last = float(epochs["measure"].iloc[0]), float(epochs["measure"].iloc[-1])
    marks = np.unique(np.linspace(0, len(steps) - 1, 6).round().astype(int))
    return {
        "epochs": int(len(epochs)), "steps": int(len(steps)),
        "first_epoch_mean_M": first, "last_epoch_mean_M": last,
        "M_reduction": 1.0 - last / first,
        "k_t_trajectory": {int(steps["step"].iloc[i]): float(steps["k_t"].iloc[i]) for i in marks},
        "k_t_epoch_end": [float(v) for v in epochs["k_t"]],
        "lr_epoch_end": [float(v) for v in epochs["lr"]],
        "last_epoch_mean_L_real": float(epochs["loss_real"].iloc[-1]),
        "last_epoch_mean_L_fake": float(epochs["loss_fake"].iloc[-1]),
    }, steps


def plot_convergence(steps, path, gamma):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    window = max(1, len(steps) // 50)
    axes[0].plot(steps["step"], steps["step_measure"], alpha=0.3, label="M per step")
    axes[0].plot(steps["step"], steps["step_measure"].rolling(window, min_periods=1).mean(),
                 label=f"M, running mean of {window}")
    axes[0].set_ylabel("M_global")
    axes[1].plot(steps["step"], steps["k_t"], color="C2")
    axes[1].set_ylabel("k_t")
    axes[2].plot(steps["step"], steps["lr"], color="C3")
    axes[2].set_ylabel("learning rate")
    axes[2].set_xlabel("step")
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"BEGAN convergence (gamma = {gamma})")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fid(config, model, data_dir, n, seed):
    """FID/KID of generated vs held-out real images, or None when common.metrics is absent."""
    try:
        from common.metrics.fid import fid_kid
    except ImportError:
        return None
    from began.sampling import generate, held_out_images, latent
    from common import pipeline
    real = held_out_images(config, data_dir, n)      # a seeded subset when n is smaller
    n = len(real)
    fake = pipeline.to_uint8(generate(model, latent(model, n, seed + 1000)))
    scores = dict(fid_kid(real, fake, data_dir=data_dir), fid_count=n)
    if config["dataset"] == "celeba":
        # the floor at this sample size: as many real training images against the same held-out ones
        # (FID of two real sets of a few hundred images is far from 0)
        from began.data import load_images
        train = load_images(config, data_dir, split="train")
        train = train[np.sort(np.random.default_rng(seed + 2000).permutation(len(train))[:n])]
        floor = fid_kid(real, train, data_dir=data_dir)
        scores.update(fid_real_floor=floor["fid"], kid_real_floor=floor["kid_mean"])
    return scores


def fid_kid_record(scores):
    """FID beside KID, with both image counts and KID's subsets: FID on a few hundred images is
    biased upwards by the sample size (REFERENCE 7), KID is unbiased, so runs compare by KID."""
    return {"fid": float(scores["fid"]), "kid_mean": float(scores["kid_mean"]),
            "kid_std": float(scores["kid_std"]), "fid_count": int(scores["fid_count"]),
            "n_real": int(scores["n_real"]), "n_fake": int(scores["n_fake"]),
            "kid_subsets": scores["kid_subsets"], "kid_subset_size": scores["kid_subset_size"],
            **{k: float(scores[k]) for k in ("fid_real_floor", "kid_real_floor") if k in scores}}


def headline(config, metrics):
    data = "CelebA 6k subset" if config["dataset"] == "celeba" else Path(config["dataset"]).name
    setting = f"{config['image_size']}px, n={config['num_filters']}, {metrics['epochs']} epochs"
    rows = [{"paper": "BEGAN", "metric": f"M_global reduction, first to last epoch mean ({data}, {setting})",
             "paper_value": None, "value": round(metrics["M_reduction"], 4),
             "notes": f"M {metrics['first_epoch_mean_M']:.4f} -> {metrics['last_epoch_mean_M']:.4f}; "
                      "the paper shows M curves, no number"}]
    if metrics.get("fid") is not None:
        held = "test split" if config["dataset"] == "celeba" else "training images"
        floor = (f"; real training vs held-out images of the same count: FID {metrics['fid_real_floor']:.1f}, "
                 f"KID x 1000 {1000 * metrics['kid_real_floor']:.1f}" if "fid_real_floor" in metrics else "")
        # issue #27's target for the quick profile's 32-px faces
        target = "<= 80" if config.get("profile") == "quick" and config["dataset"] == "celeba" else None
        rows.append({"paper": "BEGAN", "metric": f"FID vs held-out real ({data} {held}, {setting})",
                     "paper_value": None, "value": round(metrics["fid"], 2), "target": target,
                     "notes": f"{metrics['n_real']} real vs {metrics['n_fake']} generated images (FID is "
                              f"biased upwards at this size: compare runs by KID){floor}; the paper reports IS "
                              "5.62 on CIFAR-10, no FID"})
        rows.append({"paper": "BEGAN", "metric": f"KID x 1000 vs held-out real ({data} {held}, {setting})",
                     "paper_value": None, "value": round(1000 * metrics["kid_mean"], 3),
                     "notes": f"{metrics['n_real']} real vs {metrics['n_fake']} generated images; "
                              f"+- {1000 * metrics['kid_std']:.3f} over {metrics['kid_subsets']} subsets of "
                              f"{metrics['kid_subset_size']}; unbiased in the sample size"})
    return rows


def markdown(metrics):
    lines = ["| quantity | value |", "|---|---|"]
    for key in ("epochs", "steps", "first_epoch_mean_M", "last_epoch_mean_M", "M_reduction",
                "fid", "kid_mean", "kid_std", "n_real", "n_fake", "kid_subsets", "kid_subset_size",
                "fid_real_floor", "kid_real_floor"):
        value = metrics.get(key)
        if value is not None:
            lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
    lines.append("| k_t (step: value) | " + ", ".join(f"{s}: {v:.4f}" for s, v in metrics["k_t_trajectory"].items()) + " |")
    if metrics.get("fid") is None:
        lines.append(f"| FID | {metrics['fid_note']} |")
    return "\n".join(lines) + "\n"


@cli.main
def main(argv=None):
    p = cli.ArgumentParser(prog="began.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", help="a run directory written by began.train")
    p.add_argument("--profile", choices=tuple(FID_SAMPLES), default="quick",
                   help="smoke: FID on 64 images; otherwise on every held-out image")
    p.add_argument("--data-dir", default=None, help="dataset root (default $GAN_DATA_DIR, else ./data)")
    p.add_argument("-s", "--seed", type=cli.seed, default=0, help="seed of the generated images (default 0)")
    p.add_argument("--fid-samples", type=positive_int, default=None,
                   help="real and generated images for FID/KID (default: the profile's)")
    p.add_argument("--no-fid", action="store_true", help="skip FID/KID")
    args = p.parse_args(argv)
    from began.sampling import generate, grid, latent, load_run, read_config
    read_config(args.run_dir)
    run_dir = Path(args.run_dir)
    data_dir = datasets.data_dir(args.data_dir)
    config, model, epoch = load_run(run_dir)
    metrics, steps = convergence(run_dir)
    plot_convergence(steps, run_dir / "convergence.png", config["gamma"])
    from common import plots
    plots.image_grid(grid(generate(model, latent(model, 64, args.seed)), 8), run_dir / "eval_samples.png",
                     title=f"BEGAN samples after {epoch} epochs")
    n_fid = args.fid_samples or FID_SAMPLES[args.profile]
    scores = None if args.no_fid else fid(config, model, data_dir, n_fid, args.seed)
    if scores is None:
        metrics["fid_note"] = ("FID unavailable: --no-fid" if args.no_fid else
                               "FID unavailable: common.metrics.fid is not installed")
        print(metrics["fid_note"])
    else:
        metrics.update(fid_kid_record(scores))
        print(f"FID {metrics['fid']:.2f}, KID {metrics['kid_mean']:.5f} +- {metrics['kid_std']:.5f} "
              f"({metrics['n_real']} real vs {metrics['n_fake']} generated images)"
              + (f"; real vs real floor: FID {metrics['fid_real_floor']:.2f}, KID {metrics['kid_real_floor']:.5f}"
                 if "fid_real_floor" in metrics else ""))
    from common import throughput
    speed = throughput.read(run_dir)
    if speed:
        metrics["training_throughput"] = speed
    cli.write_json_atomic(run_dir / "metrics.json", metrics)
    (run_dir / "metrics.md").write_text(markdown(metrics))
    cli.write_headline(run_dir, headline(config, metrics))
    print(markdown(metrics))
    return metrics


if __name__ == "__main__":
    main()
