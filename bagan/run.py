"""BAGAN's run: the command-line options, the data, and the three phases of bagan/train.py
(autoencoder, class-conditional latent Gaussians, adversarial training) as `Runner`; `train(args)`
does what the command does, for bagan/augment.py too."""
import json
import time
from pathlib import Path

import numpy as np

from bagan.profiles import DATASET_PROFILES, PROFILES, VARIANTS
from common import cli
from common.errors import UserError

DESCRIPTION = "Train BAGAN (or BAGAN-GP) on an imbalanced dataset, as IBM/BAGAN's `bagan_train.py`."
AE_LENGTH_KEYS = ("ae_epochs", "ae_patience", "ae_min_improvement")
ADVERSARIAL_KEYS = ("loss", "dmode", "gmode", "real_sampling", "ms_lambda", "d_warmup", "d_lr_scale")   # keys the autoencoder does not depend on
AE_VAL_FILE = "val_loss.json"
AE_BEST_FILE = "best.weights.h5"
DATASETS = {"mnist": "MNIST", "cifar10": "CIFAR10", "gtsrb": "GTSRB"}


def parser():
    p = cli.ArgumentParser(prog="bagan/train.py", description=DESCRIPTION,
                           parents=[cli.parent_parser()])
    g = p.add_argument_group("BAGAN (the original's flags)")
    g.add_argument("-u", "--unbalance", type=cli.bounded(float, 0, 1, low_open=True), default=None,
                   help="the target class keeps ceil(u x the largest other class) images; 0 < u <= 1 "
                        "(the original's bare default is 0.2; the profiles use run.sh's 0.05)")
    g.add_argument("-c", "--target-class", type=cli.bounded(int, -1), default=None,
                   help="minority class; -1 = one BAGAN per class in turn (profiles: 0)")
    g.add_argument("-l", "--learning-rate", "--lr", dest="lr", type=cli.bounded(float, 0, low_open=True),
                   default=None,
                   help="Adam learning rate of every model (original 5e-5; BAGAN-GP 2e-4)")
    g.add_argument("-d", "--dmode", choices=("uniform", "rebalance"), default=None,
                   help="class sampling of the generated images shown to D")
    g.add_argument("-g", "--gmode", choices=("uniform", "rebalance"), default=None,
                   help="class sampling of the generated images G is trained on")
    g.add_argument("-D", "--dataset", default=None,
                   help="MNIST, CIFAR10, GTSRB, or a folder with one sub-folder of images per class")
    x = p.add_argument_group("beyond the original")
    x.add_argument("--variant", choices=("bagan", "gp"), default="bagan",
                   help="gp = BAGAN-GP (supervised AE with MAE, conditional critic with gradient penalty)")
    x.add_argument("--real-sampling", choices=("natural", "balanced"), default=None,
                   help="D's real batches: natural = the imbalanced set as it comes (the original); "
                        "balanced = classes drawn equally often (the minority's images repeat), so D "
                        "learns the minority class from its real images (profile)")
    x.add_argument("--loss", choices=("clipped", "logits"), default=None,
                   help="BAGAN's cross-entropy on D's softmax: clipped = the original's Keras 2.1 "
                        "(-log clip(p, 1e-7, 1-1e-7): no gradient below 1e-7); logits = Keras 3's "
                        "(from the softmax's logits, full gradient)")
    x.add_argument("--ms-lambda", dest="ms_lambda", type=cli.bounded(float, 0), default=None,
                   help="weight of MSGAN's mode-seeking term in G's loss (Mao et al. 2019; 0 = the "
                        "original): keeps a class's generated images apart (profile)")
    x.add_argument("--d-warmup", type=cli.bounded(int, 0), default=None,
                   help="adversarial steps at the start in which only D learns (G's learning rate 0), "
                        "so that G's first gradients come from a D that knows the classes (0 = the "
                        "original; profile)")
    x.add_argument("--d-lr-scale", type=cli.bounded(float, 0, low_open=True), default=None,
                   help="D's learning rate is the run's times this (1 = the original): a D that learns "
                        "the classes faster gives G class evidence sooner (profile)")
    x.add_argument("--trunk", choices=("bagan", "reference"), default=None,
                   help="the conv trunk E and D share: bagan = the original's; reference = the reference "
                        "classifier's design (batch norm, pooling), a D that learns the classes better "
                        "(profile: bagan)")
    x.add_argument("--ae-epochs", type=cli.positive_int, default=None,
                   help="autoencoder epochs, the most with early stopping (the original ties them to --epochs)")
    x.add_argument("--ae-patience", type=cli.bounded(int, 0), default=None,
                   help="stop the autoencoder after N epochs without improving its validation loss and "
                        "restore its best epoch; 0 = exactly --ae-epochs, as the original (profile)")
    x.add_argument("--ae-min-improvement", type=cli.bounded(float, 0, 1), default=None,
                   help="relative validation-loss decrease that counts as an improvement (profile)")
    x.add_argument("--keep-imbalance", action="store_true",
                   help="train once on the data as it is (e.g. GTSRB's natural imbalance), no pruning")
    x.add_argument("--image-size", "--size", dest="size", type=cli.positive_int, default=None,
                   help="image side for GTSRB (default 32) and folders (default: as found)")
    x.add_argument("--width", type=cli.bounded(float, 0, low_open=True), default=None,
                   help="filter-count multiplier (1 = the original's networks; profile)")
    x.add_argument("--train-limit", type=cli.positive_int, default=None,
                   help="use a seeded random subset of this many training images (profile)")
    x.add_argument("--test-limit", type=cli.positive_int, default=None,
                   help="test images for the per-epoch test losses (profile)")
    x.add_argument("--sample-every", type=cli.positive_int, default=None,
                   help="write class_{c}/{autoencoder,gan}/samples/epoch_NNNN.png every N epochs (profile)")
    x.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def early_stopping(losses, patience, min_improvement=0.0):
    """(index of the best loss, stop?) for per-epoch validation losses: an epoch improves when it
    lowers the best loss by more than `min_improvement` x the best (relative, so that one setting fits
    any loss scale); stop after `patience` epochs in a row without improvement."""
    best, wait = None, 0
    for i, v in enumerate(losses):
        if best is None or v < losses[best] * (1.0 - min_improvement):
            best, wait = i, 0
        else:
            wait += 1
    return best, patience is not None and wait >= patience


def dataset_tag(name):
    key = str(name).lower()
    return DATASETS.get(key, Path(name).name)


def run_dir_name(config):
    """The original's result-directory name (plus the variant for BAGAN-GP)."""
    u = "natural" if config["keep_imbalance"] else config["unbalance"]
    variant = "_gp" if config["variant"] == "gp" else ""
    return (f"res_{dataset_tag(config['dataset'])}{variant}_dmode_{config['dmode']}_gmode_{config['gmode']}"
            f"_unbalance_{u}_epochs_{config['epochs']}_lr_{config['lr']:f}_seed_{config['seed']}")


def load_data(config, data_dir):
    """Train and test splits of the chosen dataset (a folder: test = train, it has one split)."""
    from common import datasets
    name = config["dataset"]
    key = str(name).lower()
    options = {}
    if key == "gtsrb":
        options["size"] = config.get("size") or 32
    elif key not in DATASETS:
        if not Path(name).is_dir():
            raise UserError(f"unknown dataset {name!r}: choose MNIST, CIFAR10, GTSRB, or a folder "
                            "with one sub-folder of images per class")
        if config.get("size"):
            options["size"] = config["size"]
        data = datasets.load(name, None, data_dir, **options)
        return data, data
    train = datasets.load(key, "train", data_dir, **options)
    test = datasets.load(key, "test", data_dir, **options)
    return train, test


def infer(model, inputs):
    """model(inputs) in inference mode, called directly: the grids' few images need no `predict`,
    whose tf.function, traced anew for every model and input size, made TensorFlow warn of
    retracing during training."""
    return np.asarray(model(inputs, training=False))


def class_label(c):
    return "all" if c is None else str(c)


# ---------------------------------------------------------------------------------------------------


class Runner:
    """Trains the three phases for one target class inside the result directory."""

    def __init__(self, config, res_dir, train, test, image_shape, num_classes):
        self.config, self.res = config, Path(res_dir)
        self.train_all, self.test = train, test
        self.image_shape, self.num_classes = image_shape, num_classes
        from bagan.gan import variant
        self.variant = variant(config)
        self.verbose = 0 if config.get("quiet") else "auto"
        # Like --epochs, --ae-epochs and its early stopping only say how long to go on: a run may
        # resume with other values. The autoencoder's checkpoints ignore the adversarial phase's keys,
        # so a run that changes only those can start from the same autoencoder.
        self.resume_config = {k: v for k, v in config.items() if k not in AE_LENGTH_KEYS}
        self.ae_resume_config = {k: v for k, v in self.resume_config.items() if k not in ADVERSARIAL_KEYS}

    # -- phase 1 ------------------------------------------------------------------------------------
    def autoencoder(self, c, x, y):
        import tensorflow as tf
        from common import pipeline, training
        cfg, tag, v = self.config, class_label(c), self.variant

        def build():
            return v.build_autoencoder(cfg)

        def data_fn(start):
            ds, _ = pipeline.make_dataset(x, y, cfg["batch_size"], cfg["seed"], start_epoch=start)
            return ds.map(lambda im, lab: (v.autoencoder_inputs(im, tf.cast(lab, tf.int32)), im))

        steps = len(x) // cfg["batch_size"]
        shown = self._shown(y)
        real = x[shown.ravel()]

        def sample_fn(model):
            inp = pipeline.scale(real).numpy()
            out = infer(model, v.autoencoder_inputs(inp, y[shown.ravel()].astype("int32")))
            rows = np.stack([inp.reshape(*shown.shape, *self.image_shape),
                             out.reshape(*shown.shape, *self.image_shape)], 1)
            return {"images": rows.reshape(-1, shown.shape[1], *self.image_shape),
                    "row_labels": [f"{k} {s}" for k in self._shown_classes(y) for s in ("real", "autoenc")]}

        run = self.res / f"class_{tag}" / "autoencoder"
        start, done_before = time.time(), cli.epochs_done(run)
        val_inputs, val_images = self._autoencoder_validation()

        val_data = pipeline.without_autotune(                # one evaluate per epoch: see there
            tf.data.Dataset.from_tensor_slices((val_inputs, val_images)).batch(256))

        def val_loss(model):
            return float(model.evaluate(val_data, verbose=0))

        def train_to(epochs):
            # Grappler's remapper fails on BAGAN's training graphs (a conv's BiasAdd feeds both the
            # LeakyReLU and its gradient): it prints "remapper failed: INVALID_ARGUMENT: Mutation::Apply
            # error" on stderr and leaves the graph unfused. Off, the losses are the same, bit for bit.
            with training.without_remapper():
                return training.train(build, data_fn, run, epochs=epochs, steps_per_epoch=steps,
                                      config=self.ae_resume_config, save_every=cfg["save_every"],
                                      strategy=training.get_strategy(cfg["strategy"]),
                                      sample_fn=sample_fn, sample_every=cfg["sample_every"],
                                      verbose=self.verbose)

        history_path = run / AE_VAL_FILE
        history = json.loads(history_path.read_text()) if history_path.exists() else []   # [epoch, loss]
        patience, min_improvement = cfg.get("ae_patience"), cfg.get("ae_min_improvement", 0.0)

        def stop_state():
            return early_stopping([v for _, v in history], patience, min_improvement)

        if not patience:            # the original: a fixed number of epochs
            model = train_to(cfg["ae_epochs"])
            done = cli.epochs_done(run)
            if not history or history[-1][0] != done:
                history.append([done, val_loss(model)])
        else:
            done = cli.epochs_done(run)
            # an autoencoder trained without per-epoch validation (e.g. imported) is not continued
            stopped = done > len(history) or (bool(history) and stop_state()[1])
            while not stopped and done < cfg["ae_epochs"]:
                model = train_to(done + 1)
                done = cli.epochs_done(run)
                history.append([done, val_loss(model)])
                cli.write_json_atomic(history_path, history)     # kept if the run is interrupted
                best, stopped = stop_state()
                if best == len(history) - 1:
                    model.save_weights(run / AE_BEST_FILE)
                print(f"autoencoder epoch {done}: validation MSE/MAE {history[-1][1]:.5f} "
                      f"(best {history[best][1]:.5f} at epoch {history[best][0]})", flush=True)
            model = train_to(done)            # the last checkpoint (already trained: just loaded)
            best, _ = stop_state()
            if history and best != len(history) - 1 and (run / AE_BEST_FILE).exists():
                model.load_weights(run / AE_BEST_FILE)        # restore the best epoch's weights
        cli.write_json_atomic(history_path, history)
        if history:
            best, _ = early_stopping([v for _, v in history], None, min_improvement)
            summary = {"epochs_run": done, "best_epoch": history[best][0], "best_val_loss": history[best][1],
                       "last_val_loss": history[-1][1], "restored_best": bool(patience),
                       "validation": f"{len(val_images)} test images (the adversarial phase's test subset)"}
            cli.write_json_atomic(self.res / f"{tag}_autoencoder_val.json", summary)
            print(f"autoencoder: {done} epochs, validation loss {summary['best_val_loss']:.5f} "
                  f"(epoch {summary['best_epoch']})", flush=True)
        self._timing(tag, "autoencoder", run, start, steps, done_before)
        self._drop_stale_copies(run, done_before, f"{tag}_autoencoder.csv")
        for part, layer in v.AUTOENCODER_PARTS.items():
            model.get_layer(layer).save_weights(self.res / f"{tag}_{part}.weights.h5")
        return model

    def _test_subset(self):
        """The seeded test images used for the test losses (phase 3) and the AE's validation loss."""
        n_test = min(len(self.test), self.config.get("test_limit") or len(self.test))
        idx = np.random.default_rng(self.config["seed"]).permutation(len(self.test))[:n_test]
        return self.test.images[idx], self.test.labels[idx]

    def _autoencoder_validation(self):
        from common import pipeline
        images, labels = self._test_subset()
        images = pipeline.scale(images).numpy()
        return self.variant.autoencoder_inputs(images, labels.astype("int32")), images

    # -- phase 2 ------------------------------------------------------------------------------------
    def latent_sampler(self, tag, encoder, x, y):
        """N(mu_c, Sigma_c) of the encoder's codes per class on the imbalanced training set; saved, and
        loaded instead of recomputed when present (as the original)."""
        from bagan.gan import LatentSampler
        from common import pipeline
        if (self.res / f"{tag}_means.npy").exists() and (self.res / f"{tag}_covariances.npy").exists():
            return LatentSampler.load(self.res, tag)
        codes = encoder.predict(pipeline.scale(x).numpy(), batch_size=256, verbose=0)
        sampler = LatentSampler.fit(codes, y, self.num_classes)
        sampler.save(self.res, tag)
        return sampler

    # -- phase 3 ------------------------------------------------------------------------------------
    def adversarial(self, c, x, y, ae_model):
        import tensorflow as tf
        from bagan import gan
        from common import pipeline, plots, training
        cfg, tag, v = self.config, class_label(c), self.variant
        d_probs = pipeline.class_probabilities(y, cfg["dmode"], self.num_classes)
        g_probs = pipeline.class_probabilities(y, cfg["gmode"], self.num_classes)
        test_x, test_y = self._test_subset()
        batch = min(cfg["batch_size"], len(test_x))
        test_stream = pipeline.make_dataset(test_x, test_y, batch, cfg["seed"], epochs=1,
                                            shuffle=False)[0]
        encoder = ae_model.get_layer(v.AUTOENCODER_PARTS["encoder"])
        sampler = self.latent_sampler(tag, encoder, x, y) if v.class_gaussians else None
        build = gan.build(cfg, d_probs, g_probs, test_stream, ae_model, sampler)

        def data_fn(start):
            mode = "uniform" if cfg.get("real_sampling") == "balanced" else None
            ds, _ = pipeline.make_dataset(x, y, cfg["batch_size"], cfg["seed"], start_epoch=start,
                                          class_mode=mode)
            return ds.map(lambda im, lab: (im, tf.cast(lab, tf.int32)))

        shown = self._shown(y)
        classes = self._shown_classes(y)
        cols = shown.shape[1]
        fixed_labels = np.repeat(classes, cols).astype("int32")
        rng = np.random.default_rng(1234)
        fixed_z = v.latents(fixed_labels, rng, sampler)
        real = pipeline.scale(x[shown.ravel()]).numpy()
        autoenc = infer(ae_model, v.autoencoder_inputs(real, y[shown.ravel()].astype("int32")))

        def generate(model):
            return infer(model.generator, v.generator_inputs(fixed_z, fixed_labels))

        def sample_fn(model):
            rows = np.stack([real.reshape(*shown.shape, *self.image_shape),
                             autoenc.reshape(*shown.shape, *self.image_shape),
                             generate(model).reshape(*shown.shape, *self.image_shape)], 1)
            return {"images": rows.reshape(-1, cols, *self.image_shape),
                    "row_labels": [f"{k} {s}" for k in classes for s in ("real", "autoenc", "generated")]}

        run = self.res / f"class_{tag}" / "gan"
        init_png = self.res / f"cmp_class_{tag}_init.png"     # the original's; samples/ start at epoch 1
        if not init_png.exists():
            plots.image_grid(path=init_png, **sample_fn(build()))
        steps = len(x) // cfg["batch_size"]
        start, done_before = time.time(), cli.epochs_done(run)
        with training.without_remapper():        # fails on this graph too (see the autoencoder)
            model = training.train(build, data_fn, run, epochs=cfg["epochs"], steps_per_epoch=steps,
                                   config=self.resume_config, save_every=cfg["save_every"], sample_fn=sample_fn,
                                   strategy=training.get_strategy(cfg["strategy"]),
                                   sample_every=cfg["sample_every"], verbose=self.verbose)
        self._timing(tag, "gan", run, start, steps, done_before)
        self._drop_stale_copies(run, done_before, f"class_{tag}_score.csv", f"loss_class_{tag}.png")
        # The original's file names (Keras 3 needs the .weights.h5 suffix)
        model.generator.save_weights(self.res / f"class_{tag}_generator.weights.h5")
        model.discriminator.save_weights(self.res / f"class_{tag}_discriminator.weights.h5")
        encoder.save_weights(self.res / f"class_{tag}_reconstructor.weights.h5")
        # The logs and grids stay in class_{tag}/gan (losses.csv, losses.png, samples/) only; the
        # original's copies of them (class_{tag}_score.csv, cmp_class_{tag}_epoch_{e}.png) are
        # written by `python -m bagan.port RUN_DIR --export --out DIR`.
        rows = 5 if c is not None else min(5, self.num_classes)     # the rarest classes, one row each
        target = [c] * 40 if c is not None else list(np.argsort(np.bincount(y, minlength=self.num_classes))[:rows]) * 8
        labels = np.sort(np.asarray(target, "int32"))
        z = v.latents(labels, rng, sampler)
        images = infer(model.generator, v.generator_inputs(z, labels))
        plots.image_grid(images.reshape(rows, 8, *self.image_shape), self.res / f"plot_class_{tag}.png",
                         title=f"generated, class {tag}")
        return model

    # -- helpers ------------------------------------------------------------------------------------
    def _shown_classes(self, y):
        counts = np.bincount(y, minlength=self.num_classes)
        present = np.flatnonzero(counts)
        if len(present) <= 10:
            return present
        return np.sort(present[np.argsort(counts[present], kind="stable")[:6]])   # the rarest

    def _shown(self, y, cols=8):
        """Indices of `cols` training images of each shown class (repeats when a class has fewer)."""
        rows = []
        for k in self._shown_classes(y):
            members = np.flatnonzero(y == k)
            rows.append(members[np.arange(cols) % len(members)])
        return np.stack(rows)

    def _drop_stale_copies(self, run, done_before, *names):
        """Runs of earlier versions hold copies of a phase's loss log under the original's names:
        once the phase has trained further they are out of date, and the export rebuilds them."""
        if cli.epochs_done(run) > done_before:
            for name in names:
                (self.res / name).unlink(missing_ok=True)

    def _timing(self, tag, phase, run, start, steps, done_before):
        """Wall time of this invocation's epochs (resumed ones excluded) -> throughput.json's
        "<class>_<phase>" entry."""
        from common import throughput
        done = cli.epochs_done(run)
        ran = done - done_before
        if ran > 0:
            throughput.record(self.res, f"{tag}_{phase}", time.time() - start, ran * steps,
                              self.config["batch_size"], epochs_done=done, epochs_timed=ran,
                              note="wall time incl. per-epoch test losses, checkpoints and sample grids")

    def run(self, c):
        from common import imbalance
        cfg = self.config
        labels = self.train_all.labels
        if c is None:
            kept = np.arange(len(labels))
        else:
            kept = imbalance.prune(labels, c, cfg["unbalance"], cfg["seed"])
        imbalance.save_indices(self.res, kept, f"{class_label(c)}_kept_indices.npy")
        x, y = self.train_all.images[kept], self.train_all.labels[kept]
        if len(x) < cfg["batch_size"]:
            raise UserError(f"{len(x)} training images are fewer than one batch of {cfg['batch_size']}; "
                            "lower --batch-size")
        counts = np.bincount(y, minlength=self.num_classes)
        print(f"class {class_label(c)}: {len(x)} training images, per class {counts.tolist()}", flush=True)
        ae = self.autoencoder(c, x, y)
        # A top-level state marks the result dir as a real run: kept on a later error, and resumed
        # only with a matching configuration (common.cli.prepare_run_dir).
        cli.write_json_atomic(self.res / cli.STATE_FILE, {"autoencoder_done": class_label(c)})
        model = self.adversarial(c, x, y, ae)
        cli.write_json_atomic(self.res / cli.STATE_FILE, {"finished": class_label(c)})
        return model


def training_subset(data, config):
    """The seeded subset of --train-limit images every BAGAN command uses (train, evaluate, augment,
    port): one rule, so that evaluation and augmentation see the images training saw."""
    if config.get("train_limit") and config["train_limit"] < len(data):
        idx = np.sort(np.random.default_rng(config["seed"]).permutation(len(data))[:config["train_limit"]])
        return data.subset(idx)
    return data


def train(args):
    """Train the BAGAN(s) the parsed `args` ask for; returns the result directory."""
    config = cli.resolve(args, PROFILES, by_dataset=DATASET_PROFILES)
    if config["strategy"] == "multiworker":     # its own exports are not yet written by the chief only
        raise UserError("bagan/train.py does not run under --strategy multiworker yet; use default or mirrored")
    for k, v in VARIANTS[config["variant"]].items():
        if getattr(args, k, None) is None:
            config[k] = v
    if config["variant"] == "gp" and config["trunk"] != "bagan":
        raise UserError("--trunk is BAGAN's (encoder and discriminator); BAGAN-GP has its own networks")
    from common import datasets      # TensorFlow (common.training) only once the inputs are checked
    data_dir = datasets.data_dir(config.get("data_dir"))
    train, test = load_data(config, data_dir)
    train = training_subset(train, config)
    num_classes = int(max(train.labels.max(), test.labels.max()) + 1)
    c = config["target_class"]
    if c >= num_classes:
        raise UserError(f"--target-class {c} does not exist: {dataset_tag(config['dataset'])} has classes "
                        f"0..{num_classes - 1} (-1 = each class in turn)")
    image_shape = tuple(train.images.shape[1:])
    from bagan import models
    if config["variant"] == "bagan":
        models.check_image_shape(image_shape)
    targets = [None] if config["keep_imbalance"] else (list(range(num_classes)) if c == -1 else [c])
    out = Path(config.get("out") or "results/bagan")
    config["image_shape"] = list(image_shape)
    config["num_classes"] = num_classes
    config["class_names"] = [str(n) for n in train.class_names]
    res = cli.prepare_run_dir(out / run_dir_name(config), config, "bagan")
    from common.training import seed_everything
    seed_everything(config["seed"])
    runner = Runner(config, res, train, test, image_shape, num_classes)
    for target in targets:
        runner.run(target)
    print(f"results in {res}")
    return res
