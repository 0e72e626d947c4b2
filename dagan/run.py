"""DAGAN training as a library: its flags, the run and its outputs (dagan.train is the command,
dagan.augment trains through it too)."""
import os
import time
from pathlib import Path

import numpy as np

from common import cli, datasets
from common.cli import bounded, positive_int
from common.errors import UserError
from dagan.data import load, split_classes
from dagan.profiles import PROFILES

DESCRIPTION = "Train DAGAN on Omniglot or a folder of class folders."
NOT_CONFIG = ("name",)
GRID_ROWS, GRID_GENERATIONS = 8, 7


def widths(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) < 2 or min(values) < 1:
        raise cli.argparse.ArgumentTypeError(f"expected comma-separated positive widths, got {text!r}")
    return values


def parser():
    p = cli.ArgumentParser(prog="dagan.train", description=DESCRIPTION,
                           parents=[cli.parent_parser()])
    g = p.add_argument_group("DAGAN")
    g.add_argument("--dataset", default=None, help="'omniglot' (default) or a folder with one sub-folder per class")
    g.add_argument("--image-size", type=cli.image_size, default=None,
                   help="resize a folder's images to SIZE or HEIGHTxWIDTH (Omniglot is 28x28)")
    g.add_argument("--num-training-classes", dest="train_classes", type=positive_int, default=None,
                   help="the first N classes train the GAN (Omniglot 1200; a folder: all but the validation ones)")
    g.add_argument("--num-val-classes", dest="val_classes", type=bounded(int, 0), default=None,
                   help="the next N classes are unseen sources for the sample grids (Omniglot 200; a folder 0)")
    g.add_argument("--widths", type=widths, default=None, help="level widths, e.g. 64,64,128,128 (profile)")
    g.add_argument("--critic-widths", type=widths, default=None,
                   help="the critic's level widths when they differ from --widths, e.g. the paper critic's "
                        "64,64,128,128 behind a quick generator (default: --widths)")
    g.add_argument("--generator-inner-layers", type=bounded(int, 0), default=None, help="(profile; README 3)")
    g.add_argument("--critic-inner-layers", "--discriminator-inner-layers", dest="critic_inner_layers",
                   type=bounded(int, 0), default=None, help="(profile; README 5)")
    g.add_argument("--z-dim", type=positive_int, default=None, help="noise size (default 100)")
    g.add_argument("--dropout-rate-value", dest="dropout", type=bounded(float, 0, 1, high_open=True),
                   default=None, help="dropout of the generator's resampling convs (default 0.5)")
    g.add_argument("--critic-dropout", dest="critic_dropout", type=bounded(float, 0, 1, high_open=True),
                   default=None, help="dropout after the critic's three stride-2 convs, on in both the critic "
                                      "and the generator steps (default 0.5, both originals; 0 = none)")
    g.add_argument("--ms-lambda", dest="ms_lambda", type=bounded(float, 0), default=None,
                   help="weight of MSGAN's mode-seeking term lambda / (L_ms + 1e-5) in the generator loss, "
                        "L_ms = mean|G(x,z1) - G(x,z2)| / mean|z1 - z2| (default 0 = off, as the originals)")
    g.add_argument("--ms-dropout", dest="ms_dropout", choices=("independent", "shared"), default=None,
                   help="with --ms-lambda > 0: G's dropout masks for the two generations are drawn independently "
                        "(default, MSGAN; L_ms then also counts dropout noise) or shared (L_ms counts z only)")
    g.add_argument("--mismatch", type=bounded(float, 0, 1, high_open=True), default=None,
                   help="matching-aware critic (Reed et al. 2016): this share of the critic's negative term "
                        "scores a real image of another character against the source, so that the critic "
                        "judges the pair and G must keep the source's character (default 0 = the originals; "
                        "GAN-CLS uses 0.5)")
    g.add_argument("--mismatch-gp", dest="mismatch_gp", action="store_true", default=None,
                   help="with --mismatch: the gradient penalty also on the lines from the target to the other "
                        "character's image, in the negative term's shares (WGAN-GP bounds the critic only where "
                        "it is penalised; without it the penalty spiked from 2,000 iterations on)")
    g.add_argument("--batch-renorm", action="store_true", default=None,
                   help="batch renormalisation in G, as the TF original (paper profile)")
    g.add_argument("--critic-steps", type=positive_int, default=None, help="critic updates per G update (5)")
    g.add_argument("--gp-weight", type=bounded(float, 0), default=None, help="gradient penalty weight (10)")
    g.add_argument("--gp-axes", choices=("sample", "height"), default=None,
                   help="norm of the penalty: per sample over H,W,C (default) or the TF original's height-only bug")
    g.add_argument("--lr", type=bounded(float, 0, low_open=True), default=None,
                   help="Adam learning rate of both networks (1e-4; beta_1 0, beta_2 0.9)")
    g.add_argument("--rotate", action="store_true", default=None,
                   help="turn each pair by the same random multiple of 90 degrees with p = 0.5 (TF original)")
    g.add_argument("--use-wide-connections", dest="wide_connections", action="store_true", default=None,
                   help="the critic's head reads every level (TF option)")
    g.add_argument("--steps-per-epoch", type=positive_int, default=None,
                   help="iterations per epoch (default: training images / batch size, as the TF original)")
    g.add_argument("--name", type=cli.run_name, default=None, help="run directory name under --out (default from the settings)")
    return p


def run_name(config):
    data = "omniglot" if config["dataset"] == "omniglot" else Path(config["dataset"]).name
    return f"{data}_{config['profile']}_seed{config['seed']}"


def sample_fn(images, seed, z_dim):
    """Each row: a fixed source image, then generations from fixed z (NumPy, so the model's own
    random stream is left alone)."""
    rng = np.random.default_rng(seed + 1)
    pick = np.sort(rng.choice(len(images), min(GRID_ROWS, len(images)), replace=False))
    sources = images[pick].astype("float32") / 127.5 - 1
    z = rng.standard_normal((len(pick) * GRID_GENERATIONS, z_dim)).astype("float32")
    repeated = np.repeat(sources, GRID_GENERATIONS, axis=0)

    def sample(model):
        fake = np.asarray(model.generator([repeated, z], training=False)).reshape(
            len(pick), GRID_GENERATIONS, *sources.shape[1:])
        return {"images": np.concatenate([sources[:, None], fake], axis=1),
                "col_labels": ["source"] + [f"G {i + 1}" for i in range(GRID_GENERATIONS)],
                "title": "DAGAN: source, then generations"}
    return sample


def export_generator(model, run_dir):
    tmp = Path(run_dir) / "generator.partial.keras"
    model.generator.save(tmp)
    os.replace(tmp, Path(run_dir) / "generator.keras")


def train(argv=None):
    """What `python -m dagan.train ARGV` does (dagan.augment trains through it too); returns the run dir."""
    args = cli.parse_args(parser(), argv, PROFILES)
    config = cli.resolve(args, PROFILES, exclude=NOT_CONFIG)
    if config["mismatch_gp"] and not config["mismatch"]:
        raise UserError("--mismatch-gp penalises the matching-aware critic's negatives: give --mismatch too")
    config["widths"] = list(config["widths"])
    if config.get("critic_widths"):
        config["critic_widths"] = list(config["critic_widths"])
    data_dir = datasets.data_dir(args.data_dir)
    images, labels = load(config, data_dir)
    train, val, _ = split_classes(config, labels)
    in_train = labels < train.stop
    train_images, train_labels = images[in_train], labels[in_train]
    if config["steps_per_epoch"] is None:
        config["steps_per_epoch"] = max(1, len(train_images) // config["batch_size"])
    from dagan import gan
    gan.class_index(train_labels)   # every training class must hold a pair: fail before any output
    if config["rotate"] and images.shape[1] != images.shape[2]:
        raise UserError(f"--rotate needs square images, these are {images.shape[1]}x{images.shape[2]}")
    grid_images = images[(labels >= val.start) & (labels < val.stop)] if len(val) else train_images

    from common import training
    out = Path(args.out or "results/dagan")
    run_dir = out / (args.name or run_name(config))
    done = 0 if args.overwrite else cli.epochs_done(run_dir)
    cli.prepare_run_dir(run_dir, config, "dagan")
    training.seed_everything(config["seed"])
    steps = config["steps_per_epoch"]
    start = time.perf_counter()
    # Grappler's remapper fails on the critic's training graph (it printed "remapper failed:
    # INVALID_ARGUMENT: Mutation::Apply error") and leaves it unfused: off, the losses are the same.
    with training.without_remapper():
        model = training.train(
            gan.build(config, images.shape[1:]),
            lambda start_epoch: gan.pair_dataset(train_images, train_labels, config["batch_size"], steps,
                                                 config["critic_steps"], config["seed"], start_epoch,
                                                 rotate=config["rotate"], others=config["mismatch"] > 0),
            run_dir, epochs=config["epochs"], steps_per_epoch=steps, config=config,
            strategy=training.get_strategy(config["strategy"]), save_every=config["save_every"],
            sample_fn=sample_fn(grid_images, config["seed"], config["z_dim"]), step_log=True)
    seconds = time.perf_counter() - start
    if not cli.is_chief():                # the other workers of a multi-worker run write nothing
        return run_dir
    export_generator(model, run_dir)
    trained = max(0, config["epochs"] - done)
    if trained:
        from common import throughput
        rec = throughput.record(run_dir, "gan", seconds, trained * steps, config["batch_size"],
                                epochs_done=config["epochs"], epochs_timed=trained,
                                images_per_step=config["batch_size"] * (config["critic_steps"] + 1),
                                note="images = (source, target) pairs consumed: batch x (critic steps + 1) per "
                                     "iteration (step); wall time of the whole fit (tracing, checkpoints, grids included)")
        print(f"{run_dir}: {rec['images_per_s']} images/s "
              f"({rec['steps_per_s']} iterations/s) over {trained} epochs")
    return run_dir
