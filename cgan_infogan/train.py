"""Train the CGAN and/or the InfoGAN on MNIST (the original trains both on all 60k training images).

    python -m cgan_infogan.train [--model cgan|infogan|both] --profile quick --data-dir D --out results/cgan_infogan

One run directory OUT/NAME holds one sub-directory per model (cgan/, infogan/), each a resumable
common.training run (checkpoints, losses.csv/png, samples/, throughput.json); evaluate.py reads both.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cgan_infogan.variants import INFOGAN_VARIANTS, infogan_settings  # noqa: E402
from common import cli  # noqa: E402
from common.errors import UserError  # noqa: E402
from cgan_infogan.profiles import PROFILES  # noqa: E402

MODELS = ("cgan", "infogan")


def parser():
    p = cli.ArgumentParser(prog="cgan_infogan/train.py", description=__doc__.split("\n")[0],
                           parents=[cli.parent_parser()])
    p.add_argument("--model", choices=("cgan", "infogan", "both"), default="both",
                   help="which GAN to train (default both, what evaluate.py's grid needs)")
    p.add_argument("--name", type=cli.run_name, default=None, help="run directory name under --out (default mnist_<profile>)")
    p.add_argument("--train-images", type=cli.positive_int, default=None,
                   help="train on a seeded subset of this many MNIST training images (profile: 256 in smoke, all 60000 otherwise)")
    p.add_argument("--lr", type=cli.bounded(float, 0, None, low_open=True), default=None,
                   help="Adam learning rate of both networks of both GANs (default: CGAN 2e-4; InfoGAN "
                        "the variant's: kalpak92 2e-4, official D 2e-4 and G 1e-3)")
    p.add_argument("--variant", dest="infogan_variant", choices=tuple(INFOGAN_VARIANTS), default=None,
                   help="InfoGAN losses and rates: kalpak92 (the reproduced code; default) or official "
                        "(openai/InfoGAN: MI term in D's loss too, weight 1 on both codes, G lr 1e-3)")
    p.add_argument("--mapping-every", type=cli.bounded(int, 0), default=None,
                   help="measure the InfoGAN's code->digit mapping accuracy every N epochs into "
                        "infogan/mapping.csv (0 = never; profile: quick 1, paper 5)")
    return p


def run_dir_of(config):
    """OUT/NAME; the default name is mnist_<profile>, with _official for the official InfoGAN variant
    (its own run, so that it never mixes with the kalpak92 reproduction)."""
    variant = config.get("infogan_variant", "kalpak92")
    default = f"mnist_{config['profile']}" + ("" if variant == "kalpak92" else f"_{variant}")
    return Path(config.get("out") or "results/cgan_infogan") / (config.get("name") or default)


def log_mapping(run_dir, model, epoch, predict, per_code=100):
    """Appends the InfoGAN's code->digit mapping accuracy after `epoch` to RUN_DIR/mapping.csv: the
    share of generated images the reference MNIST classifier labels as their code's digit under the
    best one-to-one map. Its images come from a NumPy RNG, so the GAN's noise stream (and so
    training) is not touched. Rows after `epoch` (from before a resumption) are dropped."""
    from cgan_infogan import synthetic
    record = synthetic.measure_mapping(model, predict, per_code=per_code, seed=epoch)
    path = Path(run_dir) / synthetic.MAPPING_CSV
    rows = path.read_text().splitlines()[1:] if path.exists() else []
    rows = [r for r in rows if int(r.split(",")[0]) < epoch]
    rows.append(f"{epoch},{record['mapping_accuracy']:.4f},{' '.join(map(str, record['code_to_digit']))}")
    path.write_text("epoch,mapping_accuracy,code_to_digit\n" + "\n".join(rows) + "\n")
    print(f"epoch {epoch}: code->digit mapping accuracy {record['mapping_accuracy']:.4f} (map {record['code_to_digit']})")
    return record


def training_subset(n_available, n, seed):
    """Indices of the images the GANs train on: all, or a seeded subset of n."""
    if n is None:
        return np.arange(n_available)
    if n > n_available:
        raise UserError(f"--train-images {n} exceeds the {n_available} MNIST training images available")
    return np.sort(np.random.default_rng(seed).choice(n_available, n, replace=False))


def sample_grid(model_name):
    """Sample grids written during training: one row per label (CGAN) or per code (InfoGAN,
    columns sweep the first continuous code over [-1, 1])."""
    import tensorflow as tf

    def cgan(model):
        labels = tf.constant(np.repeat(np.arange(10), 8), tf.int32)
        return {"images": model.generate(labels).numpy().reshape(10, 8, 28, 28, 1),
                "row_labels": [str(i) for i in range(10)]}

    def infogan(model):
        index = np.repeat(np.arange(10), 8).astype(np.int32)
        cont = np.zeros((80, 2), np.float32)
        cont[:, 0] = np.tile(np.linspace(-1, 1, 8), 10)
        return {"images": model.generate(index, cont).numpy().reshape(10, 8, 28, 28, 1),
                "row_labels": [f"c{i}" for i in range(10)]}
    return cgan if model_name == "cgan" else infogan


def train_one(model_name, config, images, labels, run_dir):
    from cgan_infogan import gan
    from common import pipeline, training

    epochs = config.get("epochs") or config[f"{model_name}_epochs"]
    lr = config.get("lr") or config["cgan_lr"]
    sub_config = {"model": model_name, "epochs": epochs, "batch_size": config["batch_size"],
                  "lr": lr, "seed": config["seed"], "train_images": len(images),
                  "train_subset": config.get("train_images"), "overwrite": config.get("overwrite", False),
                  "jit_compile": config.get("jit_compile", False), "save_every": config["save_every"],
                  "precision": config.get("precision", "float32"), "tensorboard": config.get("tensorboard", False)}
    variant = None
    if model_name == "infogan":
        variant = infogan_settings(config)
        if config.get("infogan_variant", "kalpak92") != "kalpak92":
            # the default's record is left as it was, so that runs made before the variants resume
            sub_config.update(variant=config["infogan_variant"], **variant)
            sub_config["lr"] = None
    sub_dir = cli.prepare_run_dir(run_dir / model_name, sub_config)
    done_before = cli.epochs_done(sub_dir)
    training.seed_everything(config["seed"] + (0 if model_name == "cgan" else 1))

    def data_fn(start_epoch):
        return pipeline.make_dataset(images, labels if model_name == "cgan" else None,
                                     batch_size=config["batch_size"], seed=config["seed"],
                                     start_epoch=start_epoch)[0]
    steps = len(images) // config["batch_size"]
    if steps == 0:
        raise UserError(f"{len(images)} training images are fewer than one batch of {config['batch_size']}")
    start = time.time()
    sample_fn = sample_grid(model_name)
    if model_name == "infogan" and config.get("mapping_every"):
        # measured where the sample grid is written (after every --save-every epochs), so no change
        # to the shared training loop is needed; the epoch is read from the optimizer's step count
        from cgan_infogan import synthetic
        from common import datasets
        grid, cache = sample_fn, {}

        def sample_fn(model):
            epoch = int(model.d_optimizer.iterations) // steps
            if epoch % config["mapping_every"] == 0:
                if "predict" not in cache:
                    cache["predict"] = synthetic.reference_predict(datasets.data_dir(config.get("data_dir")))
                log_mapping(sub_dir, model, epoch, cache["predict"])
            return grid(model)
    training.train(gan.build(model_name, seed=config["seed"], lr=lr, jit_compile=sub_config["jit_compile"],
                             variant=variant),
                   data_fn, sub_dir, epochs=epochs, steps_per_epoch=steps, config=sub_config,
                   strategy=training.get_strategy(config["strategy"]), save_every=config["save_every"],
                   sample_fn=sample_fn)
    trained = max(0, epochs - done_before)
    if trained and cli.is_chief():        # the other workers of a multi-worker run write nothing
        seconds = time.time() - start
        cli.write_json_atomic(sub_dir / "throughput.json", {
            "images_per_s": trained * steps * config["batch_size"] / seconds, "epochs": trained,
            "steps": trained * steps, "batch_size": config["batch_size"], "wall_s": seconds,
            "note": "wall clock of model.fit incl. graph tracing, checkpoints and sample grids"})
    return sub_dir


@cli.main
def main(argv=None):
    args = cli.parse_args(parser(), argv, PROFILES)
    config = cli.resolve(args, PROFILES)
    from common import datasets
    data = datasets.load("mnist", "train", datasets.data_dir(config.get("data_dir")))
    index = training_subset(len(data.images), config.get("train_images"), config["seed"])
    run_dir = run_dir_of(config)
    # The top-level config records the request; --overwrite applies to the model(s) trained now only,
    # and which model(s) a call trains is no mismatch: each has its own resumable sub-directory.
    cli.prepare_run_dir(run_dir, {k: v for k, v in config.items() if k != "model"} | {"overwrite": False})
    for model_name in (MODELS if config["model"] == "both" else (config["model"],)):
        print(f"== {model_name}: {run_dir / model_name}")
        train_one(model_name, config, data.images[index], data.labels[index], run_dir)
    print(f"trained: {run_dir}")


if __name__ == "__main__":
    main()
