"""Train BEGAN on CelebA or a folder of images.

    python -m began.train --profile quick --data-dir ../shared/data --out results/began
    python -m began.train --dataset path/to/images --image-size 64 --gamma 0.7 --out results/began

Writes RUN_DIR/config.json, checkpoints/ (k_t, optimizer steps and M-rule state included), losses.csv
(epoch means), steps.csv (per step: L(x), L(G(z)), k_t, M, lr), samples/epoch_NNNN.png from a fixed
z, and throughput.json (training throughput, common.throughput). Running the same command again resumes.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from common import cli, datasets
from common.cli import bounded, positive_int
from common.errors import UserError
from began import IMAGE_SIZES
from began.data import image_files, load_images
from began.profiles import PROFILES

NOT_CONFIG = ("start_epoch", "add_epochs", "name")


def parser():
    p = cli.ArgumentParser(prog="began.train", description=__doc__.split("\n")[0],
                           parents=[cli.parent_parser()])
    g = p.add_argument_group("BEGAN")
    g.add_argument("--dataset", default=None,
                   help="'celeba' (train split; default) or a folder of images (flat or class sub-folders)")
    g.add_argument("--image-size", type=int, choices=IMAGE_SIZES, default=None, help="(profile)")
    g.add_argument("--num-filters", type=positive_int, default=None, help="n, the filters of the first scale (paper 128)")
    g.add_argument("--hidden", type=positive_int, default=None, help="bottleneck h = size of z (paper 64)")
    g.add_argument("--gamma", type=bounded(float, 0, 1, low_open=True), default=None,
                   help="diversity ratio gamma = E[L(G(z))] / E[L(x)], in (0, 1] (default 0.5)")
    g.add_argument("--lambda-k", type=bounded(float, 0), default=None, help="k_t gain (default 0.001)")
    g.add_argument("--lr", type=bounded(float, 0, low_open=True), default=None,
                   help="Adam learning rate of D and G (default 1e-4; beta_1 0.5)")
    g.add_argument("--lr-decay", choices=("step", "plateau", "none"), default=None,
                   help="step: halve every --lr-step updates (carpedm20; default); plateau: halve when "
                        "the mean M of a --lr-window-step window stalls (the paper's words); none: constant")
    g.add_argument("--lr-step", type=positive_int, default=None,
                   help="updates between halvings of the step rule (profile: quick 2280 = a fifth of "
                        "the run, paper 100000 as carpedm20)")
    g.add_argument("--lr-floor", type=bounded(float, 0), default=None,
                   help="lowest learning rate of either rule (default 2e-5, carpedm20's lr_lower_boundary)")
    g.add_argument("--lr-window", type=positive_int, default=None,
                   help="plateau: steps per window whose mean M is compared (profile: = --lr-step)")
    g.add_argument("--lr-patience", type=positive_int, default=None,
                   help="plateau: windows without an improvement of M before halving (default 1)")
    g.add_argument("--lr-min-delta", type=bounded(float, 0, 1, high_open=True), default=None,
                   help="plateau: relative fall of the window mean of M that counts as improving, "
                        "in [0, 1) (default 0.01)")
    g.add_argument("--train-limit", "--max-images", dest="train_limit", type=positive_int, default=None,
                   help="train on a seeded subset of N images")
    g.add_argument("--shared-z", action=argparse.BooleanOptionalAction, default=None,
                   help="one z for the D and G losses (carpedm20; faster) instead of separate z_D "
                        "and z_G (paper) (profile: on for quick)")
    g.add_argument("--name", type=cli.run_name, default=None, help="run directory name under --out (default from the settings)")
    g.add_argument("--start-epoch", type=bounded(int, 0), default=None,
                   help="artcg alias: the epoch to resume from (must be the run's latest checkpoint)")
    g.add_argument("--add-epochs", type=bounded(int, 0), default=None,
                   help="artcg alias: train this many epochs more than the run has done")
    return p


def check_folder(config):
    """Cheap input checks before TensorFlow is imported, so that mistakes fail fast."""
    if config["dataset"] != "celeba":
        folder = Path(config["dataset"]).expanduser()
        if not folder.is_dir():
            raise UserError(f"--dataset {folder}: not 'celeba' and not a folder of images")
        if not image_files(folder):
            raise UserError(f"--dataset {folder}: the folder holds no image files; put .png/.jpg images in it")


def run_name(config):
    data = "celeba" if config["dataset"] == "celeba" else Path(config["dataset"]).name
    return f"{data}_{config['image_size']}px_{config['profile']}_seed{config['seed']}"


def sample_fn(config, rows=8, cols=8):
    """Samples from one fixed z (drawn with NumPy: the model's own RNG stream is left alone)."""
    z = np.random.default_rng(config["seed"] + 1).uniform(-1, 1, (rows * cols, config["hidden"]))

    def sample(model):
        images = np.clip(model.generator.predict(z.astype("float32"), verbose=0), -1, 1)
        return {"images": images.reshape(rows, cols, *images.shape[1:]),
                "title": f"BEGAN samples, k_t = {float(model.k.numpy()):.4f}"}
    return sample


@cli.main
def main(argv=None):
    args = cli.parse_args(parser(), argv, PROFILES)
    config = cli.resolve(args, PROFILES, exclude=NOT_CONFIG)
    check_folder(config)
    data_dir = datasets.data_dir(args.data_dir)
    out = Path(args.out or "results/began")
    run_dir = out / (args.name or run_name(config))
    done = 0 if args.overwrite else cli.epochs_done(run_dir)
    if args.start_epoch is not None and args.start_epoch != done:
        raise UserError(f"--start-epoch {args.start_epoch}: {run_dir} has {done} epochs done; "
                        f"resume with --start-epoch {done} (only the latest checkpoint is resumable)")
    if args.add_epochs is not None:
        config["epochs"] = done + args.add_epochs
    images = load_images(config, data_dir)
    if config["train_limit"]:
        keep = np.random.default_rng(config["seed"]).permutation(len(images))[:config["train_limit"]]
        images = images[np.sort(keep)]
    if len(images) < config["batch_size"]:
        raise UserError(f"{len(images)} images are fewer than one batch of {config['batch_size']}; "
                        "lower --batch-size or add images")

    from common import pipeline, training
    from began import gan
    cli.prepare_run_dir(run_dir, config, "began")
    training.seed_everything(config["seed"])
    steps = len(images) // config["batch_size"]   # make_dataset drops the last partial batch
    total = steps * config["epochs"]
    if config["lr_decay"] == "step" and total < config["lr_step"]:
        print(f"note: {total} steps in all, fewer than --lr-step {config['lr_step']}: the learning rate "
              "never halves (lower --lr-step to scale the schedule to this run)")
    start = time.perf_counter()
    training.train(
        gan.build(config, steps, channels=images.shape[-1]),
        lambda start_epoch: pipeline.make_dataset(images, batch_size=config["batch_size"],
                                                  seed=config["seed"], start_epoch=start_epoch)[0],
        run_dir, epochs=config["epochs"], steps_per_epoch=steps, config=config,
        strategy=training.get_strategy(config["strategy"]), save_every=config["save_every"],
        sample_fn=sample_fn(config), step_log=True)
    seconds = time.perf_counter() - start
    trained = max(0, config["epochs"] - done)
    if trained and cli.is_chief():        # the other workers of a multi-worker run write nothing
        from common import throughput
        rec = throughput.record(run_dir, "gan", seconds, trained * steps, config["batch_size"],
                                epochs_done=config["epochs"], epochs_timed=trained,
                                note="wall time of the whole fit (tracing, checkpoints and sample grids included)")
        print(f"{run_dir}: {rec['images_per_s']} images/s over {trained} epochs")
    return run_dir


if __name__ == "__main__":
    main()
