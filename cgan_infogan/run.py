"""CGAN / InfoGAN training as a library: flags, data, one run per model (cgan_infogan.train is the
command; cgan_infogan.augment trains through it too)."""
import time
from pathlib import Path

import numpy as np

from cgan_infogan.profiles import PROFILES
from cgan_infogan.variants import INFOGAN_VARIANTS, infogan_settings
from common import cli
from common.errors import UserError

DESCRIPTION = "Train the CGAN and/or the InfoGAN on MNIST or on a folder of class folders."

MODELS = ("cgan", "infogan")


def parser():
    p = cli.ArgumentParser(prog="cgan_infogan/train.py", description=DESCRIPTION,
                           parents=[cli.parent_parser()])
    p.add_argument("--model", choices=("cgan", "infogan", "both"), default="both",
                   help="which GAN to train (default both, what evaluate.py's grid needs)")
    p.add_argument("--dataset", default=None,
                   help="mnist (default) or a folder with one sub-folder of images per class")
    p.add_argument("--image-size", type=cli.image_size, default=None,
                   help="resize a folder's images to SIZE or HEIGHTxWIDTH (at least 12; MNIST is 28x28)")
    p.add_argument("--name", type=cli.run_name, default=None, help="run directory name under --out (default <dataset>_<profile>)")
    p.add_argument("--train-limit", "--train-images", dest="train_limit", type=cli.positive_int, default=None,
                   help="train on a seeded subset of this many training images (profile: 256 in smoke, "
                        "all 60000 otherwise; a smaller folder is used whole)")
    p.add_argument("--lr", type=cli.bounded(float, 0, None, low_open=True), default=None,
                   help="Adam learning rate of both networks of both GANs (default: CGAN 2e-4; InfoGAN "
                        "the variant's: kalpak92 2e-4, official D 2e-4 and G 1e-3)")
    p.add_argument("--variant", dest="infogan_variant", choices=tuple(INFOGAN_VARIANTS), default=None,
                   help="InfoGAN losses and rates: kalpak92 (the reproduced code; default) or official "
                        "(openai/InfoGAN: MI term in D's loss too, weight 1 on both codes, G lr 1e-3, "
                        "z ~ U(-1, 1), LeakyReLU 0.01)")
    p.add_argument("--openai-details", action="store_true",
                   help="with --variant official: the rest of openai/InfoGAN's code too (D on [0, 1] images, "
                        "truncated-normal conv init, a bias on G's last layer, fresh codes for the G step)")
    p.add_argument("--mapping-every", type=cli.bounded(int, 0), default=None,
                   help="measure the InfoGAN's code->digit mapping accuracy every N epochs into "
                        "infogan/mapping.csv (0 = never; profile: quick 1, paper 5)")
    return p


def run_dir_of(config):
    """OUT/NAME; the default name is mnist_<profile>, with _official for the official InfoGAN variant
    (its own run, so that it never mixes with the kalpak92 reproduction) and _openai for its details."""
    variant = config.get("infogan_variant", "kalpak92")
    data = Path(config["dataset"]).name if config.get("dataset") else "mnist"
    default = (f"{data}_{config['profile']}" + ("" if variant == "kalpak92" else f"_{variant}")
               + ("_openai" if config.get("openai_details") else ""))
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


def write_mapping_headline(run_dir, variant, openai_details=False):
    """RUN_DIR/headline.json: the mapping accuracy at the last measured epoch, for the scoreboard
    (target of issue #27: the official variant >= 0.95 within 10 epochs)."""
    from cgan_infogan import synthetic
    epoch, accuracy, mapping = (Path(run_dir) / synthetic.MAPPING_CSV).read_text().splitlines()[-1].split(",")
    official_target = variant == "official" and int(epoch) <= 10
    details = ", openai's details" if openai_details else ""
    cli.write_headline(run_dir, [{
        "paper": "CGAN/InfoGAN", "paper_value": None, "value": float(accuracy),
        "metric": f"InfoGAN code->digit mapping accuracy after {epoch} epochs ({variant} variant{details})",
        "target": ">= 0.95" if official_target else None,
        "notes": f"codes->digits {mapping}; every epoch in {synthetic.MAPPING_CSV}"}])


def training_subset(n_available, n, seed):
    """Indices of the images the GANs train on: all, or a seeded subset of n."""
    if n is None:
        return np.arange(n_available)
    if n > n_available:
        raise UserError(f"--train-images {n} exceeds the {n_available} training images available")
    return np.sort(np.random.default_rng(seed).choice(n_available, n, replace=False))


def sample_grid(model_name, num_classes=10, names=None):
    """Sample grids written during training: one row per label (CGAN) or per code (InfoGAN,
    columns sweep the first continuous code over [-1, 1])."""
    import tensorflow as tf
    k = num_classes

    def cgan(model):
        labels = tf.constant(np.repeat(np.arange(k), 8), tf.int32)
        return {"images": model.generate(labels).numpy().reshape(k, 8, *model.image_shape),
                "row_labels": list(names or map(str, range(k)))}

    def infogan(model):
        index = np.repeat(np.arange(k), 8).astype(np.int32)
        cont = np.zeros((8 * k, 2), np.float32)
        cont[:, 0] = np.tile(np.linspace(-1, 1, 8), k)
        return {"images": model.generate(index, cont).numpy().reshape(k, 8, *model.image_shape),
                "row_labels": [f"c{i}" for i in range(k)]}
    return cgan if model_name == "cgan" else infogan


def train_one(model_name, config, images, labels, run_dir):
    from cgan_infogan import gan
    from common import pipeline, training

    epochs = config.get("epochs") or config[f"{model_name}_epochs"]
    lr = config.get("lr") or config["cgan_lr"]
    sub_config = {"model": model_name, "epochs": epochs, "batch_size": config["batch_size"],
                  "lr": lr, "seed": config["seed"], "train_images": len(images),
                  "train_subset": config.get("train_limit"), "overwrite": config.get("overwrite", False),
                  "jit_compile": config.get("jit_compile", False), "save_every": config["save_every"],
                  "precision": config.get("precision", "float32"), "tensorboard": config.get("tensorboard", False)}
    shape = {k: config[k] for k in ("num_classes", "image_shape") if k in config}   # a folder's; MNIST: none
    sub_config.update(shape)
    variant = None
    if model_name == "infogan":
        variant = infogan_settings(config)
        if config.get("infogan_variant", "kalpak92") != "kalpak92":
            # the default's record is left as it was, so that runs made before the variants resume
            sub_config.update(variant=config["infogan_variant"], **variant)
            sub_config["lr"] = None
    sub_dir = cli.prepare_run_dir(run_dir / model_name, sub_config, "cgan_infogan")
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
    sample_fn = sample_grid(model_name, config.get("num_classes", 10), config.get("class_names"))
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
                if cli.is_chief():
                    write_mapping_headline(sub_dir, config.get("infogan_variant", "kalpak92"),
                                           variant["openai_details"])
            return grid(model)
    training.train(gan.build(model_name, seed=config["seed"], lr=lr, jit_compile=sub_config["jit_compile"],
                             variant=variant, **shape),
                   data_fn, sub_dir, epochs=epochs, steps_per_epoch=steps, config=sub_config,
                   strategy=training.get_strategy(config["strategy"]), save_every=config["save_every"],
                   sample_fn=sample_fn)
    trained = max(0, epochs - done_before)
    if trained and cli.is_chief():        # the other workers of a multi-worker run write nothing
        seconds = time.time() - start
        from common import throughput
        throughput.record(run_dir, model_name, seconds, trained * steps, config["batch_size"],
                          epochs_done=epochs, epochs_timed=trained,
                          note="wall clock of model.fit incl. graph tracing, checkpoints and sample grids")
    return sub_dir


def load_data(config):
    """MNIST's training images, or a folder's (recording its classes and image shape in `config`;
    an MNIST run's config stays as it was, so runs made before folders resume)."""
    from common import datasets
    if str(config.get("dataset") or "mnist").lower() == "mnist":
        config.pop("dataset", None)
        if config.pop("image_size", None):
            raise UserError("--image-size is for a folder (--dataset FOLDER); MNIST is 28x28")
        return datasets.load("mnist", "train", datasets.data_dir(config.get("data_dir")))
    folder = Path(config["dataset"]).expanduser()
    if not folder.is_dir():
        raise UserError(f"--dataset {folder}: not 'mnist' and not a folder with one sub-folder of images per class")
    size = config.get("image_size")
    data = datasets.load(str(folder), None, **({"size": tuple(size)} if size else {}))
    if len(data.class_names) < 2:
        raise UserError(f"--dataset {folder} holds {len(data.class_names)} class; a conditional GAN needs 2 or more")
    if min(data.images.shape[1:3]) < 12:
        raise UserError(f"{folder}'s images are {data.images.shape[1]}x{data.images.shape[2]}; give --image-size 12 or more")
    config["mapping_every"] = 0     # the code -> digit map is measured with the reference MNIST classifier
    config.update(image_size=list(size) if size else None, num_classes=len(data.class_names),
                  image_shape=list(data.images.shape[1:]), class_names=[str(n) for n in data.class_names])
    return data


def _written_config(run_dir):
    path = Path(run_dir) / cli.CONFIG_FILE
    return cli.read_json(path, "run configuration").get("config", {}) if path.exists() else {}


def train(argv=None):
    """What `python -m cgan_infogan.train ARGV` does (cgan_infogan.augment trains through it too);
    returns the run directory."""
    args = cli.parse_args(parser(), argv, PROFILES)
    config = cli.resolve(args, PROFILES)
    if config.get("openai_details") and (config["infogan_variant"] != "official" or config["model"] == "cgan"):
        raise UserError("--openai-details completes the official InfoGAN: it needs --variant official")
    data = load_data(config)
    if config.get("dataset") and args.train_limit is None and (config.get("train_limit") or 0) >= len(data.images):
        config["train_limit"] = None     # the profile's subset size is MNIST's; a small folder is used whole
    index = training_subset(len(data.images), config.get("train_limit"), config["seed"])
    run_dir = run_dir_of(config)
    # The top-level config records the request; --overwrite applies to the model(s) trained now only,
    # and which model(s) a call trains is no mismatch: each has its own resumable sub-directory.
    # (The model sub-runs record the subset as train_subset and the images used as train_images.)
    record = {k: v for k, v in config.items() if k != "model"} | {"overwrite": False}
    if "train_images" in _written_config(run_dir):     # written before train_limit was its name
        record["train_images"] = record.pop("train_limit")
    cli.prepare_run_dir(run_dir, record, "cgan_infogan")
    for model_name in (MODELS if config["model"] == "both" else (config["model"],)):
        print(f"== {model_name}: {run_dir / model_name}")
        train_one(model_name, config, data.images[index], data.labels[index], run_dir)
    print(f"trained: {run_dir}")
    return run_dir
