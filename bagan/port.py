"""Bring the results of the original IBM/BAGAN (Keras 2, channels-first) into a run dir of this suite,
and write a run dir of this suite in the original's layout (`export`).

    python -m bagan.port ORIGINAL_RESULTS_DIR --out RUN_DIR [-c TARGET_CLASS]
    python -m bagan.port RUN_DIR --export --out FOLDER [-c TARGET_CLASS]

The original (`bagan_train.py`, `K.set_image_dim_ordering('th')`) writes into
`res_{dataset}_dmode_{d}_gmode_{g}_unbalance_{u}_epochs_{E}_lr_{lr:f}_seed_{s}/`: the networks as
Keras 2 HDF5 files (`class_{c}_{generator,discriminator,reconstructor}.h5`, the backups
`bck_c_{c}_{generator,discriminator}_e_{e}.h5`, the autoencoder `{c}_{decoder,encoder}.h5`), the
class-conditional latent Gaussians `{c}_means.npy` / `{c}_covariances.npy` and two loss logs
(`{c}_autoencoder.csv`, `class_{c}_score.csv`).

The weights are read with h5py (Keras 3 cannot load Keras 2 model files) by order and shape, never
by the Keras 2 auto-names (they depend on how many models the original built in its graph):
- conv kernels are (kh, kw, in, out) in every Keras 2 version and data format: copied as they are;
- the Dense before the channels-first Reshape (128, r, r) has its columns permuted to (r, r, 128);
- the Dense after the channels-first Flatten has its rows permuted from (C, h, w) to (h, w, C),
  unless the file comes from Keras >= 2.2, whose Flatten already flattens in (h, w, C) order
  (read from the Flatten's `data_format` in the stored config, or from `keras_version`).
"""
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from common import cli
from common.errors import UserError

# The original's output directory name (bagan_train.py `__main__`).
RUN_NAME = re.compile(r"res_(?P<dataset>.+)_dmode_(?P<dmode>[a-z]+)_gmode_(?P<gmode>[a-z]+)"
                      r"_unbalance_(?P<unbalance>[0-9.eE+-]+)_epochs_(?P<epochs>\d+)"
                      r"_lr_(?P<lr>[0-9.eE+-]+)_seed_(?P<seed>-?\d+)$")
# The original's datasets (-D) -> this suite's dataset names and (H, W, C) image shapes.
DATASETS = {"MNIST": ("mnist", (28, 28, 1)), "CIFAR10": ("cifar10", (32, 32, 3))}
ROLES = ("generator", "discriminator", "encoder")


@dataclass
class Keras2File:
    """The weight arrays of one Keras 2 HDF5 file (whole model or weights only), in layer order."""
    path: Path
    names: list
    arrays: list
    keras_version: str = None
    config: dict = None          # the stored model_config (whole-model files only)
    training_config: dict = None

    def layer_configs(self):
        """Every layer config, nested Sequentials included (a plain list in Keras <= 2.1.x, a dict
        with "layers" in Keras >= 2.2)."""
        found = []

        def walk(layers):
            for layer in layers:
                cfg = layer.get("config")
                if layer.get("class_name") in ("Sequential", "Model"):
                    walk(cfg if isinstance(cfg, list) else cfg.get("layers", []))
                else:
                    found.append((layer.get("class_name"), cfg or {}))
        if self.config:
            cfg = self.config.get("config", {})
            walk(cfg if isinstance(cfg, list) else cfg.get("layers", []))
        return found

    def channels_first(self):
        """The original sets `image_dim_ordering('th')`; only a stored config can say otherwise."""
        formats = {c.get("data_format") for k, c in self.layer_configs() if k == "Conv2D"}
        return "channels_last" not in formats

    def flatten_in_chw_order(self):
        """Whether the Flatten before the head flattened an NCHW map in C order (rows c*h*w + ...).

        Keras <= 2.1.5 has no Flatten data_format (C-order flatten), 2.1.6 stores "channels_last"
        (same), Keras >= 2.2 stores "channels_first" and permutes to (h, w, C) before flattening."""
        if not self.channels_first():
            return False
        flattens = [c for k, c in self.layer_configs() if k == "Flatten"]
        if flattens:
            return flattens[-1].get("data_format") != "channels_first"
        return _version_tuple(self.keras_version) < (2, 2)

    def image_shape(self):
        """(H, W, C) from the stored input shape of an image model, else None."""
        for kind, cfg in self.layer_configs():
            shape = cfg.get("batch_input_shape")
            if kind in ("InputLayer", "Conv2D") and shape and len(shape) == 4:
                c, h, w = shape[1:] if self.channels_first() else (shape[3], shape[1], shape[2])
                return (h, w, c)
        return None


def _version_tuple(text):
    numbers = re.findall(r"\d+", text or "0")
    return tuple(int(n) for n in numbers[:3]) if numbers else (0,)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def read_keras2(path):
    """Read a Keras 2 `Model.save` or `save_weights` HDF5 file with h5py (not Keras)."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise UserError(f"{path}: not a readable HDF5 file ({str(e).splitlines()[0]}); "
                        "copy it again from the original results") from None
    try:
        with f:
            group = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in group.attrs:
                raise UserError(f"{path}: not a Keras 2 model or weights file (no layer_names); "
                                "is this a file of the original BAGAN?")
            names, arrays = [], []
            for layer in group.attrs["layer_names"]:
                layer_group = group[_text(layer)]
                for name in layer_group.attrs.get("weight_names", []):
                    names.append(_text(name))
                    arrays.append(np.asarray(layer_group[_text(name)]))
            attrs = f.attrs
            config = json.loads(_text(attrs["model_config"])) if "model_config" in attrs else None
            training = json.loads(_text(attrs["training_config"])) if "training_config" in attrs else None
            version = attrs.get("keras_version", group.attrs.get("keras_version"))
            return Keras2File(path, names, arrays, _text(version) if version is not None else None,
                              config, training)
    except UserError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path}: damaged Keras 2 file ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else 'unreadable'}); "
                        "copy it again from the original results") from None


def _square_side(size, channels, path, what):
    side = int(round((size / channels) ** 0.5)) if channels else 0
    if side * side * channels != size:
        raise UserError(f"{path}: {what} has {size} units, not {channels} square maps; "
                        "it is not a BAGAN network")
    return side


def to_channels_last(kfile, role):
    """The file's arrays reordered for the channels-last network of the same role."""
    arrays = [np.asarray(a, np.float32) for a in kfile.arrays]
    if role == "generator":
        # Dense(128*r*r) -> Reshape((128, r, r)): column c*r*r + i*r + j becomes (i*r + j)*128 + c.
        if kfile.channels_first() and len(arrays) >= 3 and arrays[1].ndim == 2 and arrays[2].ndim == 4:
            k, c = arrays[1], arrays[2].shape[2]
            r = _square_side(k.shape[1], c, kfile.path, "the Dense before the Reshape")
            arrays[1] = np.ascontiguousarray(
                k.reshape(k.shape[0], c, r, r).transpose(0, 2, 3, 1).reshape(k.shape))
    elif kfile.flatten_in_chw_order() and len(arrays) >= 4 and arrays[-2].ndim == 2 and arrays[-4].ndim == 4:
        # Flatten of (C, h, w) -> Dense: row c*h*w + i*w + j becomes (i*w + j)*C + c.
        k, c = arrays[-2], arrays[-4].shape[-1]
        r = _square_side(k.shape[0], c, kfile.path, "the Flatten before the head")
        arrays[-2] = np.ascontiguousarray(k.reshape(c, r, r, -1).transpose(1, 2, 0, 3).reshape(k.shape))
    return arrays


def load_weights(model, kfile, role):
    """Assign a Keras 2 file's weights to the channels-last `model`, checking count and shapes."""
    targets = model.trainable_weights
    if len(kfile.arrays) != len(targets):
        raise UserError(f"{kfile.path}: holds {len(kfile.arrays)} weight arrays but BAGAN's {role} "
                        f"has {len(targets)}; it is not the original BAGAN's {role}")
    image = model.output_shape if role == "generator" else model.input_shape
    for name, array, target in zip(kfile.names, kfile.arrays, targets):
        if tuple(array.shape) != tuple(target.shape):
            raise UserError(f"{kfile.path}: {name} has shape {tuple(array.shape)} but BAGAN's {role} "
                            f"for {'x'.join(map(str, image[1:]))} images needs {tuple(target.shape)}; "
                            "is the file from another dataset or another model?")
    for array, target in zip(to_channels_last(kfile, role), targets):
        target.assign(array)
    return model


# ---------------------------------------------------------------------------------------------------
# The original's results directory.

# The original's flags (bagan_train.py) -> the keys of its run-dir name.
FLAGS = {"dataset": "-D/--dataset", "unbalance": "-u/--unbalance", "dmode": "-d/--dmode",
         "gmode": "-g/--gmode", "epochs": "-e/--epochs", "lr": "-l/--lr", "seed": "-s/--seed"}
SETTING_TYPES = {"dataset": str, "unbalance": float, "dmode": str, "gmode": str, "epochs": int,
                 "lr": float, "seed": int}


@dataclass
class Original:
    """One target class of an original BAGAN results directory, read and converted."""
    folder: Path
    target_class: int
    settings: dict                 # the original's flags: dataset, unbalance, dmode, gmode, epochs, lr, seed
    image_shape: tuple
    files: dict                    # role -> the h5 file its weights came from
    epochs_done: int               # GAN epochs the networks were trained for
    ae_epochs: int                 # autoencoder epochs
    generator: object = None
    discriminator: object = None
    encoder: object = None         # the final reconstructor
    decoder: object = None         # the autoencoder phase's G and E ({c}_decoder.h5, {c}_encoder.h5)
    ae_encoder: object = None
    means: np.ndarray = None
    covariances: np.ndarray = None
    scores: list = field(default_factory=list)       # class_{c}_score.csv rows as dicts of floats
    autoencoder_losses: list = field(default_factory=list)


def target_classes(folder):
    """The target classes an original results directory holds a generator for."""
    found = set()
    for path in Path(folder).iterdir():
        m = re.fullmatch(r"(?:class_(\d+)_generator|bck_c_(\d+)_generator_e_\d+)\.h5", path.name)
        if m:
            found.add(int(m.group(1) or m.group(2)))
    return sorted(found)


def parse_settings(folder, given=None):
    """The original's flags from its run-dir name, overridden by those given (for renamed dirs)."""
    m = RUN_NAME.fullmatch(Path(folder).resolve().name)
    settings = {k: SETTING_TYPES[k](v) for k, v in m.groupdict().items()} if m else {}
    settings.update({k: v for k, v in (given or {}).items() if v is not None})
    return settings


def _networks_files(folder, c):
    """The h5 file of each role and the GAN epochs G and D hold: the final models when there, else
    the latest backup (written after epoch e, so e + 1 epochs are done)."""
    folder = Path(folder)
    g, d = folder / f"class_{c}_generator.h5", folder / f"class_{c}_discriminator.h5"
    epochs = None
    if not (g.exists() and d.exists()):
        backups = {}
        for path in folder.glob(f"bck_c_{c}_generator_e_*.h5"):
            m = re.fullmatch(rf"bck_c_{c}_generator_e_(\d+)\.h5", path.name)
            if m:
                backups[int(m.group(1))] = path
        if not backups:
            missing = g if not g.exists() else d
            raise UserError(f"{missing}: missing, and there is no backup bck_c_{c}_generator_e_N.h5; "
                            "copy the original's class files into the folder")
        e = max(backups)
        g, d, epochs = backups[e], folder / f"bck_c_{c}_discriminator_e_{e}.h5", e + 1
        if not d.exists():
            raise UserError(f"{d}: missing (it belongs with {g.name}); copy it from the original results")
    # E is trained only in the autoencoder phase, so the final reconstructor equals {c}_encoder.h5.
    final_e, ae_e, decoder = (folder / f"class_{c}_reconstructor.h5", folder / f"{c}_encoder.h5",
                              folder / f"{c}_decoder.h5")
    if not (final_e.exists() or ae_e.exists()):
        raise UserError(f"{final_e}: missing (and no {ae_e.name}); copy it from the original results")
    if not decoder.exists():
        raise UserError(f"{decoder}: missing; the autoencoder's decoder is needed to continue training, "
                        "copy it from the original results")
    return {"generator": g, "discriminator": d, "encoder": final_e if final_e.exists() else ae_e,
            "decoder": decoder, "ae_encoder": ae_e if ae_e.exists() else final_e}, epochs


def _read_scores(path):
    import csv
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or not {"train_gen_loss", "train_disc_loss"} <= set(rows[0]):
            raise ValueError("no train_gen_loss,train_disc_loss columns")
        return [{k: float(v) for k, v in row.items()} for row in rows]
    except (ValueError, TypeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not the original's score log ({e}); remove it or copy it again") from None


def _read_autoencoder_log(path):
    try:
        return [float(line) for line in Path(path).read_text().split()]
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not the original's autoencoder log ({e}); remove it or copy it again") from None


def _load_stats(folder, c, num_classes_hint=None):
    stats = {}
    for kind in ("means", "covariances"):
        path = Path(folder) / f"{c}_{kind}.npy"
        if not path.exists():
            raise UserError(f"{path}: missing; the class-conditional Gaussians are needed to generate")
        try:
            stats[kind] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: not a readable .npy file ({e})") from None
    means, covs = stats["means"], stats["covariances"]
    if means.ndim != 2:
        raise UserError(f"{Path(folder) / f'{c}_means.npy'}: shape {means.shape}, expected (classes, latent)")
    n, dim = means.shape
    if covs.shape != (n, dim, dim):
        raise UserError(f"{Path(folder) / f'{c}_covariances.npy'}: shape {covs.shape}, expected "
                        f"{(n, dim, dim)} to match {c}_means.npy")
    if not (np.isfinite(means).all() and np.isfinite(covs).all()):
        raise UserError(f"{Path(folder) / f'{c}_means.npy'}/covariances: non-finite values")
    return means, covs


def _check_settings(folder, settings, optional=()):
    missing = [FLAGS[k] for k in FLAGS if k not in settings and k not in optional]
    if missing:
        raise UserError(f"{folder}: the name is not the original's res_{{dataset}}_dmode_..._seed_{{s}}; "
                        f"give the original's flags {', '.join(missing)}")


def load_original(folder, target_class=None, settings=None):
    """Read one target class of an original results dir into channels-last Keras 3 networks.

    settings: the original's flags (keys of FLAGS) for a folder whose name is not the original's."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a directory; give the original's res_... results folder")
    classes = target_classes(folder)
    if target_class is None:
        if len(classes) != 1:
            raise UserError(f"{folder}: " + (f"holds target classes {classes}; choose one with -c"
                                             if classes else "no class_C_generator.h5 or "
                                             "bck_c_C_generator_e_N.h5 here; is it an original BAGAN "
                                             "results folder?"))
        target_class = classes[0]
    c = target_class
    files, backup_epochs = _networks_files(folder, c)
    settings = parse_settings(folder, settings)
    scores_path = folder / f"class_{c}_score.csv"
    scores = _read_scores(scores_path) if scores_path.exists() else []
    if "epochs" not in settings and scores:
        settings["epochs"] = len(scores)
    means, covs = _load_stats(folder, c)
    _check_settings(folder, settings, optional=("lr",))
    # The cheap checks come first; then the weights (the generator alone is ~33 MB unpacked).
    read = {path: read_keras2(path) for path in sorted(set(files.values()))}
    kfiles = {role: read[path] for role, path in files.items()}
    if "lr" not in settings:        # the Adam lr is stored with every whole-model file
        lr = (kfiles["discriminator"].training_config or {}).get("optimizer_config", {}).get("config", {}).get("lr")
        if lr is not None:
            settings["lr"] = float(np.float32(lr))
    _check_settings(folder, settings)
    dataset = settings["dataset"]
    image_shape = DATASETS.get(dataset.upper(), (None, None))[1]
    stored = kfiles["discriminator"].image_shape() or kfiles["encoder"].image_shape()
    if image_shape is None:
        if stored is None:
            raise UserError(f"{files['discriminator']}: no stored input shape and dataset {dataset!r} "
                            f"is not one of {sorted(DATASETS)}; pass -D {'|'.join(DATASETS)}")
        image_shape = stored
    elif stored is not None and tuple(stored) != tuple(image_shape):
        raise UserError(f"{files['discriminator']}: made for {stored[0]}x{stored[1]}x{stored[2]} images, "
                        f"but {dataset} images are {'x'.join(map(str, image_shape))}; check -D")
    num_classes, latent_dim = means.shape
    if not 0 <= c < num_classes:
        raise UserError(f"{folder / f'{c}_means.npy'}: {num_classes} classes, no target class {c}")
    from bagan import models       # TensorFlow loads only once the files have been read and checked
    models.check_image_shape(image_shape)
    ae_path = folder / f"{c}_autoencoder.csv"
    ae_losses = _read_autoencoder_log(ae_path) if ae_path.exists() else []
    original = Original(folder, c, settings, tuple(image_shape), files,
                        backup_epochs if backup_epochs is not None else len(scores) or settings["epochs"],
                        len(ae_losses) or settings["epochs"],
                        means=means.astype(np.float32), covariances=covs.astype(np.float64),
                        scores=scores, autoencoder_losses=ae_losses)
    builders = {"generator": lambda: models.build_generator(image_shape, latent_dim),
                "decoder": lambda: models.build_generator(image_shape, latent_dim, name="decoder"),
                "discriminator": lambda: models.build_discriminator(image_shape, num_classes),
                "encoder": lambda: models.build_encoder(image_shape, latent_dim),
                "ae_encoder": lambda: models.build_encoder(image_shape, latent_dim)}
    for role, build in builders.items():
        kind = {"decoder": "generator", "ae_encoder": "encoder"}.get(role, role)
        setattr(original, role, load_weights(build(), kfiles[role], kind))
    return original


# ---------------------------------------------------------------------------------------------------
# Writing the run directory of this suite (the layout bagan/train.py writes and resumes from)

# This suite's loss-log columns for the original's (gan.BAGAN logs gen_loss/disc_loss and the test
# losses as val_*; `export` writes them back under the original's names).
GAN_COLUMNS = {"train_gen_loss": "gen_loss", "train_disc_loss": "disc_loss",
               "test_gen_loss": "val_gen_loss", "test_disc_loss": "val_disc_loss"}


def grid_pattern(tag):
    """The names of the original's image grids of target class `tag`."""
    return re.compile(rf"(cmp_class_{tag}_(init|epoch_\d+)|plot_class_{tag}(_epoch_\d+)?)\.png")


def suite_config(original, run_dir, profile="paper", batch_size=None, train_limit=None, test_limit=None,
                 data_dir=None):
    """config.json as bagan/train.py computes it for the same run, so that it accepts the imported
    checkpoints (their configuration hash must match). The networks are the original's, hence
    --width 1; the autoencoder ran as many epochs as the GAN (the original ties them)."""
    from bagan import run
    from bagan.profiles import DATASET_PROFILES, PROFILES
    from common.datasets import cifar10, mnist
    s = original.settings
    argv = ["--profile", profile, "--width", "1", "-D", s["dataset"], "-u", repr(s["unbalance"]),
            "-c", str(original.target_class), "-l", repr(s["lr"]), "-d", s["dmode"], "-g", s["gmode"],
            "-s", str(s["seed"]), "-e", str(s["epochs"]), "--ae-epochs", str(original.ae_epochs),
            "--out", str(Path(run_dir).parent)]
    for flag, value in (("--batch-size", batch_size), ("--train-limit", train_limit),
                        ("--test-limit", test_limit), ("--data-dir", data_dir)):
        if value is not None:
            argv += [flag, str(value)]
    config = cli.resolve(run.parser().parse_args(argv), PROFILES, by_dataset=DATASET_PROFILES)
    num_classes = len(original.means)
    names = {"mnist": mnist.CLASSES, "cifar10": cifar10.CLASSES}.get(s["dataset"].lower())
    config["image_shape"] = list(original.image_shape)
    config["num_classes"] = num_classes
    config["class_names"] = list(names) if names and len(names) == num_classes else [str(i) for i in range(num_classes)]
    return config


def resume_config(config, run_dir, phase="gan"):
    """What bagan/train.py checks a checkpoint's configuration hash against: asked of its Runner,
    which may leave out keys that can change on resumption (e.g. --ae-epochs), and for the
    autoencoder (phase "autoencoder") also the adversarial phase's keys."""
    from bagan import run
    runner = run.Runner(config, run_dir, None, None, tuple(config["image_shape"]), config["num_classes"])
    full = getattr(runner, "resume_config", config)
    return getattr(runner, "ae_resume_config", full) if phase == "autoencoder" else full


def _write_csv(path, rows, columns):
    import pandas as pd
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)


def kept_indices(original, config, data_dir=None):
    """The training images bagan/train.py keeps for this run (its pruning of this suite's copy of
    the dataset; the original's own subset is not recoverable: TF1's loader re-seeds NumPy from
    entropy). None when the dataset is not found and no --data-dir was given."""
    from bagan import run
    from common import datasets, imbalance
    try:
        data, _ = run.load_data(config, datasets.data_dir(data_dir))
    except UserError:
        if data_dir:
            raise
        return None
    data = run.training_subset(data, config)
    return imbalance.prune(data.labels, original.target_class, config["unbalance"], config["seed"])


def write_run(original, run_dir, config, kept=None):
    """Write the run directory bagan/train.py would have written after the same epochs: config.json,
    the latent Gaussians, a checkpoint + loss log for the autoencoder (class_{c}/autoencoder/) and for
    the GAN (class_{c}/gan/), and the per-network exports and logs under the original's names."""
    from bagan import gan
    from common import plots, training

    run_dir = Path(run_dir)
    tag = str(original.target_class)
    lr = config["lr"]
    run_dir.mkdir(parents=True)
    record = {"config": config, "versions": cli.versions(), "seed": config.get("seed"),
              "imported_from": str(original.folder.resolve())}
    cli.write_json_atomic(run_dir / cli.CONFIG_FILE, record)
    try:
        sampler = gan.LatentSampler(original.means, original.covariances)
    except np.linalg.LinAlgError:
        raise UserError(f"{original.folder / f'{tag}_covariances.npy'}: not positive semi-definite "
                        "covariances; is the file from the original run?") from None
    sampler.save(run_dir, tag)
    if kept is not None:
        np.save(run_dir / f"{tag}_kept_indices.npy", np.asarray(kept, np.int64))

    # Phase 1: the autoencoder G(E(x)) as it was after the original's autoencoder epochs.
    ae = gan.build_autoencoder_model(original.image_shape, len(original.means[0]), lr, width=1.0)
    ae.get_layer("encoder").set_weights(original.ae_encoder.get_weights())
    ae.get_layer("decoder").set_weights(original.decoder.get_weights())
    ae_run = run_dir / f"class_{tag}" / "autoencoder"
    resume = resume_config(config, run_dir)
    training.save_checkpoint(ae, ae_run, original.ae_epochs, resume_config(config, run_dir, "autoencoder"))
    ae.get_layer("encoder").save_weights(run_dir / f"{tag}_encoder.weights.h5")
    ae.get_layer("decoder").save_weights(run_dir / f"{tag}_decoder.weights.h5")
    if original.autoencoder_losses:
        rows = list(enumerate(original.autoencoder_losses, 1))     # epochs finished, as the suite logs them
        _write_csv(ae_run / training.LOSSES_CSV, rows, ["epoch", "loss"])

    # Phase 3: the adversarial networks, the fixed class Gaussians, fresh Adam states (the original
    # stores D's Adam moments only, in Keras 2's layout, and never G's).
    model = gan.BAGAN(original.image_shape, len(original.means), len(original.means[0]), width=1.0,
                      seed=config["seed"])
    model.generator.set_weights(original.generator.get_weights())
    model.discriminator.set_weights(original.discriminator.get_weights())
    model.set_latent(sampler)
    model.compile(d_optimizer=gan.BAGAN.make_optimizer(lr), g_optimizer=gan.BAGAN.make_optimizer(lr))
    gan_run = run_dir / f"class_{tag}" / "gan"
    training.save_checkpoint(model, gan_run, original.epochs_done, resume)
    model.generator.save_weights(run_dir / f"class_{tag}_generator.weights.h5")
    model.discriminator.save_weights(run_dir / f"class_{tag}_discriminator.weights.h5")
    original.encoder.save_weights(run_dir / f"class_{tag}_reconstructor.weights.h5")
    if original.scores:
        scores = original.scores[:original.epochs_done]
        # Keras logs the epoch's losses sorted by name, then the sorted val_* ones, and
        # common.training appends its rows in that order under the existing header.
        present = sorted((k for k in GAN_COLUMNS if k in scores[0]),
                         key=lambda k: (GAN_COLUMNS[k].startswith("val_"), GAN_COLUMNS[k]))
        rows = [[e] + [row[k] for k in present] for e, row in enumerate(scores, 1)]
        _write_csv(gan_run / training.LOSSES_CSV, rows, ["epoch"] + [GAN_COLUMNS[k] for k in present])
        plots.loss_curves(gan_run / training.LOSSES_CSV, gan_run / "losses.png")
    # The original's image grids: of its own epochs, so they have no counterpart in samples/.
    for png in original.folder.glob(f"*class_{tag}*.png"):
        if grid_pattern(tag).fullmatch(png.name):
            shutil.copyfile(png, run_dir / png.name)
    cli.write_json_atomic(run_dir / "imported.json", {
        "from": str(original.folder.resolve()), "target_class": original.target_class,
        "original_flags": original.settings, "gan_epochs": original.epochs_done,
        "autoencoder_epochs": original.ae_epochs,
        "files": {role: str(path.name) for role, path in original.files.items()},
        "keras_versions": {role: read_keras2_version(path) for role, path in original.files.items()},
        "not_imported": "Adam states (D's is stored in Keras 2's layout, G's never is); the original's "
                        "pruned training subset (not saved by the original)"})
    return run_dir


# ---------------------------------------------------------------------------------------------------
# Exporting a run directory of this suite to the original's layout

def _original_names(tag):
    """Files of a run dir that bagan/train.py writes under the original's names (Keras 3 weights)."""
    return re.compile(rf"{tag}_(means|covariances)\.npy|{tag}_(encoder|decoder)\.weights\.h5"
                      rf"|class_{tag}_(generator|discriminator|reconstructor)\.weights\.h5|{grid_pattern(tag).pattern}")


def _log_columns(path, columns):
    """The columns of a suite's CSV log, in row order ({} when the log is absent), read back exactly."""
    import csv
    if not Path(path).exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {c: [float(row[c]) for row in rows] for c in columns if rows and c in rows[0]}


def export(run_dir, out, target_class=None):
    """Write into `out` the original's layout of a run of this suite (train.py keeps each piece of
    information once, in its own files): per target class the loss logs in the original's format
    (`{c}_autoencoder.csv`: one float32 per line; `class_{c}_score.csv`: its header and CRLF rows), the
    sample grids as `cmp_class_{c}_epoch_{e}.png`, and the files already under the original's names
    (latent Gaussians, `.weights.h5` networks, `cmp_class_{c}_init.png`, `plot_class_{c}.png`)."""
    import csv
    from bagan.sampling import trained_tags
    from common import training
    run_dir, out = Path(run_dir), Path(out)
    tags = trained_tags(run_dir)
    if target_class is not None:
        if str(target_class) not in tags:
            raise UserError(f"{run_dir}: no trained class {target_class} (trained: {', '.join(tags)})")
        tags = [str(target_class)]
    out.mkdir(parents=True)
    for tag in tags:
        names = _original_names(tag)
        for path in sorted(run_dir.iterdir()):     # an imported run's grids of the original's epochs too
            if path.is_file() and names.fullmatch(path.name):
                shutil.copyfile(path, out / path.name)
        ae = _log_columns(run_dir / f"class_{tag}" / "autoencoder" / training.LOSSES_CSV, ["loss"])
        if ae:      # str(np.float32) prints the original's digits (an f-string, the float64 value's)
            (out / f"{tag}_autoencoder.csv").write_text("".join(str(np.float32(v)) + "\n" for v in ae["loss"]))
        gan_run = run_dir / f"class_{tag}" / "gan"
        scores = _log_columns(gan_run / training.LOSSES_CSV, GAN_COLUMNS.values())
        if scores:
            named = [k for k in GAN_COLUMNS if GAN_COLUMNS[k] in scores]
            with open(out / f"class_{tag}_score.csv", "w", newline="") as f:     # csv's CRLF, as the original
                writer = csv.writer(f)
                writer.writerow(named)
                # the original's train losses are float32 batch means, its test losses float64
                writer.writerows([np.float32(v) if k.startswith("train") else float(v) for k, v in zip(named, row)]
                                 for row in zip(*(scores[GAN_COLUMNS[k]] for k in named)))
        for png in sorted((gan_run / "samples").glob("epoch_*.png")):
            shutil.copyfile(png, out / f"cmp_class_{tag}_epoch_{int(png.stem.split('_')[1])}.png")
    return out


def read_keras2_version(path):
    with h5py.File(path, "r") as f:
        version = f.attrs.get("keras_version")
    return _text(version) if version is not None else None


def parser():
    p = cli.ArgumentParser(
        prog="bagan/port.py",
        description="Import the results of the original IBM/BAGAN (Keras 2) into a run directory "
                    "of this suite, which bagan/train.py continues and bagan/evaluate.py evaluates; "
                    "or, with --export, write a run of this suite in the original's layout.")
    p.add_argument("original", help="the original's results folder, res_{dataset}_dmode_{d}_gmode_{g}"
                                    "_unbalance_{u}_epochs_{E}_lr_{lr}_seed_{s} (with --export: a run "
                                    "directory of bagan/train.py)")
    p.add_argument("--out", required=True,
                   help="the run directory to write; bagan/train.py finds it as "
                        "OUT_PARENT/res_..._epochs_{E}_... (E = the epochs to train to); with --export, "
                        "the folder to write the original's files into")
    p.add_argument("--export", action="store_true",
                   help="the other way: the original's file names and formats of a run of this suite "
                        "(class_{c}_score.csv, {c}_autoencoder.csv, cmp_class_{c}_epoch_{e}.png, ...), "
                        "which bagan/train.py keeps only in its own files (losses.csv, samples/)")
    p.add_argument("-c", "--target-class", type=cli.bounded(int, 0), default=None,
                   help="the class to import (or export) when the folder holds several (-c -1 runs)")
    g = p.add_argument_group("the original's flags (default: read from the folder name)")
    g.add_argument("-D", "--dataset", type=str.upper, choices=sorted(DATASETS), default=None)
    g.add_argument("-u", "--unbalance", type=cli.bounded(float, 0, 1, low_open=True), default=None)
    g.add_argument("-d", "--dmode", choices=("uniform", "rebalance"), default=None)
    g.add_argument("-g", "--gmode", choices=("uniform", "rebalance"), default=None)
    g.add_argument("-e", "--epochs", type=cli.positive_int, default=None)
    g.add_argument("-l", "--lr", type=cli.bounded(float, 0, low_open=True), default=None)
    g.add_argument("-s", "--seed", type=cli.seed, default=None)
    t = p.add_argument_group("bagan/train.py settings recorded for continuing (pass the same to it)")
    t.add_argument("--profile", choices=("smoke", "quick", "paper"), default="paper",
                   help="the profile whose batch size and data limits continued training uses "
                        "(paper = the original's: batch 128, all data)")
    t.add_argument("--batch-size", type=cli.positive_int, default=None)
    t.add_argument("--train-limit", type=cli.positive_int, default=None)
    t.add_argument("--test-limit", type=cli.positive_int, default=None)
    p.add_argument("--data-dir", default=None,
                   help="dataset root, to record the training images this suite keeps for the run "
                        "(bagan/evaluate.py needs them; default: $GAN_DATA_DIR, else ./data)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    return p


def _replace(out, write):
    """write(folder) into a temporary sibling of `out`, then put it in out's place: a failure leaves
    nothing half-written behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        write(partial)
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    out = cli.new_output(args.out, args.overwrite)
    source = Path(args.original)
    if out.resolve() == source.resolve() or out.resolve() in source.resolve().parents:
        raise UserError(f"--out {out} would replace {source}; choose another folder")
    if args.export:
        if not (source / cli.CONFIG_FILE).is_file():
            raise UserError(f"{source}: no {cli.CONFIG_FILE}; --export takes a run directory of bagan/train.py")
        _replace(out, lambda partial: export(source, partial, args.target_class))
        print(f"exported {source} in the original's layout into {out}")
        return out
    given = {k: getattr(args, k) for k in FLAGS}
    original = load_original(args.original, args.target_class, given)
    config = suite_config(original, out, args.profile, args.batch_size, args.train_limit, args.test_limit,
                          args.data_dir)
    kept = kept_indices(original, config, args.data_dir)
    _replace(out, lambda partial: write_run(original, partial, config, kept))
    print(f"imported {original.folder} (class {original.target_class}, {original.epochs_done} GAN epochs) "
          f"into {out}")
    if kept is None:
        print(f"note: {original.settings['dataset']} was not found, so {original.target_class}_kept_indices.npy "
              "is not written; bagan/evaluate.py needs it: import again with --data-dir, or continue "
              "training (bagan/train.py writes it)")
    return out


if __name__ == "__main__":
    main()
