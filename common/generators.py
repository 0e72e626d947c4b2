"""One Python API for every package's trained generator.

    from common import generators
    g = generators.load("results/cgan_infogan/mnist_quick")       # its CGAN (model="infogan": the other)
    g.sample(labels=[0, 1, 2], seed=0)                               # uint8 (3, 28, 28, 1)
    g.sample(n=100, seed=1, dtype="float32")                         # labels i mod 10, float32 in [-1, 1]
    generators.load("results/dagan/omniglot_quick_seed0").sample(sources=images, seed=0)
    generators.load("results/began/celeba_32px_quick_seed0").sample(n=64)
    g.save("cgan.keras")                 # then, without this suite:
    keras.saving.load_model("cgan.keras").predict(g.inputs(labels=[0, 1, 2], seed=0))   # = sample's, in [-1, 1]

To train on real and generated images at a fixed ratio, see `common.pipeline.mixed_dataset`.

`load(run_dir, model=None)` reads the run's config.json to tell which package made it and rebuilds
the generator from what that package's training writes, with the package's own builders:

| package       | run directory                          | loaded from                                        |
|---------------|----------------------------------------|----------------------------------------------------|
| bagan         | bagan.train's res_... folder           | class_{tag}_generator.weights.h5 (+ {tag}_means.npy, {tag}_covariances.npy) |
| dagan         | dagan.train's run                      | generator.keras (written at the end of training)   |
| cgan_infogan  | the run holding cgan/ and infogan/     | cgan/ or infogan/ checkpoints (latest)             |
| began         | began.train's run                      | checkpoints (latest)                               |
| debias        | a de-biasing experiment                | the generator its fake/generator.json names (a BEGAN run, or a .keras file) |

`model=` picks one generator when a run holds several: "cgan" (default when present) or "infogan"
for cgan_infogan; the class tag ("0", "all", ...) for a BAGAN run trained with -c -1.

Every generator is one Keras network of built-in layers (`Generator.network`) fed by inputs drawn
from a NumPy RNG seeded by `seed`; `sample` is that network on `inputs(...)`, clipped to [-1, 1],
and `save` writes that very network, so a saved file reproduces `sample` exactly. What it takes:

| package       | conditioning            | network inputs (in order)                                                  |
|---------------|-------------------------|----------------------------------------------------------------------------|
| bagan         | labels (class ids)      | noise (N, d) ~ N(0, I), label (N,) int32; BAGAN: z = mu[label] + L[label] noise inside the network (L: Cholesky factor of the class covariance); BAGAN-GP: its G(latent, label) |
| cgan          | labels (digits)         | noise (N, 64) ~ N(0, I), label (N,) int32 (one-hot inside)                |
| infogan       | labels = category codes | noise (N, 62) ~ N(0, I), code (N,) int32, continuous (N, 2) ~ U(-1, 1)    |
| dagan         | sources (images)        | source images (N, H, W, C) in [-1, 1], z (N, z_dim) ~ N(0, I)              |
| began         | n                       | z (N, h) ~ U(-1, 1) (a single input: an array, not a list)                |

All output images (N, H, W, C) in about [-1, 1] (BEGAN's decoder is not bounded: `sample` clips).
Run a loaded file in inference mode, `model.predict(x)` or `model(x, training=False)`: a bare
`model(x)` leaves some networks (DAGAN's) in another mode and gives other images.
The InfoGAN's categories are not digits: `code_to_digit` is the run's measured code -> digit map
when it has one for its checkpoint (cgan_infogan.generate's code_to_digit.json, or the last row of
infogan/mapping.csv), else None with `mapping_note` saying why; `codes_for(digits)` maps digits to
codes with it.
"""
import contextlib
import os
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError

BATCH = 256
DTYPES = ("uint8", "float32")


def latent(rng, shape, prior="normal"):
    """Latent noise as the runs draw it: "normal" N(0, I) or "uniform" U(-1, 1), float32."""
    if prior == "uniform":
        return rng.uniform(-1, 1, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


class Generator:
    """A trained generator: `network` (a keras.Model) and how to draw its inputs.

    Attributes: package, run_dir, network, image_shape (H, W, C), conditioning ("labels", "sources"
    or None), num_classes (class-conditional ones), epoch (when known), source (what was loaded).
    """
    package = None
    conditioning = None

    def __init__(self, run_dir, network, source, epoch=None, num_classes=None):
        self.run_dir, self.network, self.source = Path(run_dir), network, str(source)
        self.epoch, self.num_classes = epoch, num_classes
        self.image_shape = tuple(int(v) for v in network.output_shape[1:])

    def __repr__(self):
        return (f"<{type(self).__name__} {self.package} from {self.source}"
                + (f", epoch {self.epoch}" if self.epoch is not None else "") + ">")

    # -- what each package defines ----------------------------------------------------------------
    def _draw(self, rng, labels=None, n=None, sources=None):
        """The network's inputs (a list of arrays) for one request."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------
    def inputs(self, labels=None, n=None, seed=0, sources=None):
        """The inputs `sample` feeds the network for these arguments, as a `save`d file takes them:
        a list of arrays, or one array for a single-input network (BEGAN)."""
        return _one_or_list(self._draw(np.random.default_rng(seed), labels=labels, n=n, sources=sources))

    def sample(self, labels=None, n=None, seed=0, dtype="uint8", *, sources=None):
        """Images (N, H, W, C): uint8 in [0, 255] (dtype="uint8", default) or float32 in [-1, 1]
        (dtype="float32"). The same arguments and seed give the same images.

        labels: class ids (BAGAN, CGAN) or category codes (InfoGAN; see `codes_for`); with only `n`
        a class-conditional generator draws the balanced labels i mod num_classes. n: how many
        (BEGAN). sources: DAGAN's source images, uint8 or float in [-1, 1], one generation each
        (repeat a source for several)."""
        if dtype not in DTYPES:
            raise UserError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        x = self._draw(np.random.default_rng(seed), labels=labels, n=n, sources=sources)
        total = len(x[0])
        parts = [np.asarray(self.network(_one_or_list([a[i:i + BATCH] for a in x]), training=False).numpy())
                 for i in range(0, total, BATCH)]
        out = np.concatenate(parts) if parts else np.zeros((0, *self.image_shape), np.float32)
        out = np.clip(out.astype(np.float32), -1.0, 1.0)
        if dtype == "float32":
            return out
        from common.pipeline import to_uint8
        return to_uint8(out)

    def save(self, path):
        """Write `network` as a .keras file that plain `keras.saving.load_model` loads (built-in
        layers only); it takes the inputs of `inputs(...)` (see the module's table). Returns the path."""
        path = Path(path)
        if path.suffix != ".keras":
            raise UserError(f"{path}: a saved generator's name must end in .keras")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".partial.keras")
        try:
            self.network.save(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path


def _one_or_list(arrays):
    """A single-input network takes its array, not a list of one (Keras warns otherwise)."""
    return arrays[0] if len(arrays) == 1 else arrays


def _count(n, what):
    if n is None or isinstance(n, bool) or int(n) != n or n < 0:
        raise UserError(f"{what}: give n, a whole number >= 0 (got {n!r})")
    return int(n)


class ConditionalGenerator(Generator):
    """Class-conditional (BAGAN, CGAN, InfoGAN): labels in 0..num_classes-1; noise ~ `prior`."""
    conditioning = "labels"
    prior = "normal"

    def labels(self, labels, n):
        if labels is None:
            return (np.arange(_count(n, self.package)) % self.num_classes).astype(np.int32)
        array = np.asarray(labels)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise UserError(f"{self.package}: labels must be a 1-D array of integers, got shape "
                            f"{array.shape} of {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.num_classes):
            raise UserError(f"{self.package}: labels must lie in 0..{self.num_classes - 1}, "
                            f"got {array.min()}..{array.max()}")
        if n is not None and n != len(array):
            raise UserError(f"{self.package}: n={n} but {len(array)} labels; give one of them")
        return array.astype(np.int32)

    def _draw(self, rng, labels=None, n=None, sources=None):
        if sources is not None:
            raise UserError(f"{self.package} is conditioned on labels, not source images")
        y = self.labels(labels, n)
        return [latent(rng, (len(y), self.network.inputs[0].shape[-1]), self.prior), y]


class BAGANGenerator(ConditionalGenerator):
    package = "bagan"


class CGANGenerator(ConditionalGenerator):
    package = "cgan"


class InfoGANGenerator(ConditionalGenerator):
    """labels are the categorical code; the two continuous codes are drawn ~ U(-1, 1) and the noise
    from the run's prior (`prior`: "normal", kalpak92; "uniform" U(-1, 1), the official variant), as
    in training."""
    package = "infogan"

    def __init__(self, *args, code_to_digit=None, mapping_note="", prior="normal", **kwargs):
        super().__init__(*args, **kwargs)
        self.code_to_digit, self.mapping_note, self.prior = code_to_digit, mapping_note, prior

    def codes_for(self, digits):
        """The category codes that generate `digits`, by the run's measured map."""
        if self.code_to_digit is None:
            raise UserError(f"{self.source}: {self.mapping_note}")
        digit_to_code = np.argsort(self.code_to_digit)
        return digit_to_code[np.asarray(digits, np.int64)].astype(np.int32)

    def _draw(self, rng, labels=None, n=None, sources=None):
        noise, codes = super()._draw(rng, labels, n, sources)
        continuous = rng.uniform(-1, 1, (len(codes), self.network.inputs[2].shape[-1])).astype(np.float32)
        return [noise, codes, continuous]


class DAGANGenerator(Generator):
    """One generation per source image, z ~ N(0, I)."""
    package = "dagan"
    conditioning = "sources"

    def _draw(self, rng, labels=None, n=None, sources=None):
        if labels is not None:
            raise UserError("dagan is conditioned on source images (sources=...), not labels")
        if sources is None:
            raise UserError("dagan generates from source images: pass sources=images (uint8, or float "
                            "in [-1, 1])")
        x = np.asarray(sources)
        if x.ndim == len(self.image_shape) and x.shape[-1] != self.image_shape[-1]:
            x = x[..., None]                        # (N, H, W) grey images
        if x.shape[1:] != self.image_shape:
            raise UserError(f"dagan: sources must be (N, {', '.join(map(str, self.image_shape))}), "
                            f"got {x.shape}")
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 127.5 - 1.0
        elif not np.issubdtype(x.dtype, np.floating) or (x.size and (x.min() < -1 or x.max() > 1)):
            raise UserError("dagan: sources must be uint8, or floats in [-1, 1]")
        if n is not None and n != len(x):
            raise UserError(f"dagan: n={n} but {len(x)} sources; repeat a source to get several generations")
        return [x.astype(np.float32), latent(rng, (len(x), self.network.inputs[1].shape[-1]))]


class LatentGenerator(Generator):
    """One latent input z ~ `prior`: "uniform" in [-1, 1] (BEGAN) or "normal"."""
    package = "began"
    conditioning = None

    def __init__(self, *args, prior="uniform", package=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.prior = prior
        self.package = package or self.package

    def _draw(self, rng, labels=None, n=None, sources=None):
        if labels is not None or sources is not None:
            raise UserError(f"{self.package} is unconditional: give n, not labels or sources")
        return [latent(rng, (_count(n, self.package), self.network.inputs[0].shape[-1]), self.prior)]


# ---------------------------------------------------------------------------------------------------
# One adapter per package: (run_dir, config, model) -> Generator


@contextlib.contextmanager
def _float32():
    """Networks rebuilt in float32 whatever the caller's global policy (a mixed-precision run's
    weights are float32 on disk)."""
    import keras
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _no_generator(run_dir, package, missing, how):
    return UserError(f"{run_dir} is a {package} run with no trained generator yet ({missing}); {how}")


def _bagan(run_dir, config, model):
    import keras
    from keras import layers

    from bagan import gan, models, sampling
    tags = sorted(p.name[len("class_"):-len("_generator.weights.h5")]
                  for p in run_dir.glob("class_*_generator.weights.h5"))
    if not tags:
        raise _no_generator(run_dir, "bagan", "no class_*_generator.weights.h5",
                            "train it to the end first (bagan/train.py resumes it)")
    tag = model or (tags[0] if len(tags) == 1 else None)
    if tag not in tags:
        raise UserError(f"{run_dir} holds BAGANs for classes {', '.join(tags)}; choose one with model=")
    shape, k = tuple(config["image_shape"]), int(config["num_classes"])
    weights = run_dir / f"class_{tag}_generator.weights.h5"
    if config["variant"] == "gp":
        network = sampling.Generator(run_dir, config, tag).model      # G(noise, label) as trained
        return BAGANGenerator(run_dir, network, weights, num_classes=k)
    if not (run_dir / f"{tag}_means.npy").exists():
        raise _no_generator(run_dir, "bagan", f"no {tag}_means.npy", "train it again to refit the class Gaussians")
    sampler = gan.LatentSampler.load(run_dir, tag)
    generator = models.build_generator(shape, width=config["width"])
    generator.load_weights(weights)
    # z = mu[label] + L[label] @ noise, as BAGAN.latent, in built-in layers: the file needs no bagan code
    d = sampler.means.shape[1]
    noise = keras.Input((d,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    means = layers.Embedding(k, d, trainable=False, name="class_means")
    factors = layers.Embedding(k, d * d, trainable=False, name="class_cholesky_factors")
    mu = means(label)
    scaled = layers.Dot(axes=(2, 1), name="factor_times_noise")(
        [layers.Reshape((d, d), name="factor")(factors(label)), noise])
    network = keras.Model([noise, label], generator(layers.Add(name="latent")([mu, scaled])),
                          name="bagan_generator")
    means.set_weights([sampler.means])
    factors.set_weights([sampler.factors.reshape(k, d * d)])
    return BAGANGenerator(run_dir, network, weights, num_classes=k)


def _measured_mapping(folder, epoch):
    """(code_to_digit or None, note): the InfoGAN's measured map if one was measured at `epoch`."""
    from cgan_infogan import synthetic
    cached = folder / synthetic.MAPPING_FILE
    if cached.exists():
        record = cli.read_json(cached, "code -> digit mapping")
        if record.get("epoch") == epoch:
            return list(record["code_to_digit"]), f"measured at epoch {epoch} ({cached.name})"
    log = folder / synthetic.MAPPING_CSV
    if log.exists():
        rows = [r.split(",") for r in log.read_text().splitlines()[1:] if r.strip()]
        if rows and int(rows[-1][0]) == epoch:
            return [int(v) for v in rows[-1][2].split()], f"measured at epoch {epoch} ({log.name})"
    return None, ("no code -> digit mapping measured for this checkpoint (epoch "
                  f"{epoch}): the categories are codes, not digits; measure one with "
                  "python -m cgan_infogan.generate RUN --model infogan ... or train with --mapping-every")


def _cgan_infogan(run_dir, config, model):
    import keras
    from keras import layers

    from cgan_infogan import models, synthetic
    if "model" in config:                  # RUN/cgan or RUN/infogan itself
        model = model or config["model"]
        if model != config["model"]:
            raise UserError(f"{run_dir} holds the {config['model']}, not the {model}")
    else:
        trained = [m for m in ("cgan", "infogan") if (run_dir / m / cli.STATE_FILE).exists()]
        if not trained:
            raise _no_generator(run_dir, "cgan_infogan", "no cgan/ or infogan/ checkpoint",
                                "train it first (python -m cgan_infogan.train)")
        model = model or trained[0]
    if model not in ("cgan", "infogan"):
        raise UserError(f"{run_dir}: model= must be cgan or infogan, not {model!r}")
    gan, epoch, folder = synthetic.load_gan(run_dir, model)
    noise = keras.Input(gan.generator.inputs[0].shape[1:], name="noise")
    if model == "cgan":
        label = keras.Input((), dtype="int32", name="label")
        one_hot = layers.CategoryEncoding(gan.num_classes, "one_hot", name="one_hot")(label)
        network = keras.Model([noise, label], gan.generator([noise, one_hot]), name="cgan_generator")
        return CGANGenerator(run_dir, network, folder, epoch=epoch, num_classes=gan.num_classes)
    code = keras.Input((), dtype="int32", name="code")
    continuous = keras.Input((models.INFO_CONT,), name="continuous")
    one_hot = layers.CategoryEncoding(gan.num_categories, "one_hot", name="one_hot_code")(code)
    network = keras.Model([noise, code, continuous], gan.generator([noise, one_hot, continuous]),
                          name="infogan_generator")
    mapping, note = _measured_mapping(folder, epoch)
    return InfoGANGenerator(run_dir, network, folder, epoch=epoch, num_classes=gan.num_categories,
                   code_to_digit=mapping, mapping_note=note, prior=gan.z_prior)


def _dagan(run_dir, config, model):
    import keras

    from dagan import (
        models,  # registers PairedDropout, which a saved generator may hold
    )
    path = run_dir / "generator.keras"
    if not path.exists():
        raise _no_generator(run_dir, "dagan", "no generator.keras",
                            "it is written when training ends: run the same dagan.train command again")
    trained = keras.saving.load_model(path, compile=False)
    # Rebuilt with plain Dropout (the same weights): a saved copy then loads without dagan's code.
    network = models.generator(trained.inputs[0].shape[1:], config["widths"], config["generator_inner_layers"],
                               config["z_dim"], config["dropout"], config["batch_renorm"])
    network.set_weights(trained.get_weights())
    return DAGANGenerator(run_dir, network, path, epoch=cli.epochs_done(run_dir))


def _began(run_dir, config, model):
    from began import gan
    from common import training
    if not (run_dir / cli.STATE_FILE).exists():
        raise _no_generator(run_dir, "began", f"no {cli.STATE_FILE} or checkpoint",
                            "train it first (python -m began.train)")
    full = gan.build(config, steps_per_epoch=1)()
    epoch = training.load_checkpoint(full, run_dir)
    return LatentGenerator(run_dir, full.generator, run_dir / "checkpoints", epoch=epoch, prior="uniform")


def _debias(run_dir, config, model):
    """De-biasing trains no generator: it samples the one its generate step recorded."""
    record = run_dir / "fake" / "generator.json"
    if not record.exists():
        raise _no_generator(run_dir, "debias", f"no {record.relative_to(run_dir)}: de-biasing uses a BEGAN run's "
                            "generator and records it when `debias.generate --generate orig` runs",
                            "load the BEGAN run itself")
    info = cli.read_json(record, "generator record")
    source = Path(info.get("path", ""))
    if source.is_dir():
        return load(source, model)
    if source.suffix == ".keras" and source.is_file():
        import keras
        network = keras.saving.load_model(source, compile=False)
        return LatentGenerator(run_dir, network, source, prior=info.get("prior") or "uniform", package="debias")
    raise UserError(f"{record} names the generator {source}, which no longer exists")


def _debias_classifier(run_dir, config, model):
    raise UserError(f"{run_dir} is a de-biasing classifier run ({config['model_train']}); it has no "
                    "generator: pass its experiment directory or the BEGAN run")


# Which package wrote a run, by config.json keys only its train command writes: for a debias run, a
# classifier's or an experiment's; for runs written before config.json named its package, any.
PACKAGES = (
    ("bagan", {"unbalance", "variant", "ae_epochs"}, _bagan),
    ("dagan", {"critic_steps", "gp_axes", "z_dim"}, _dagan),
    ("cgan_infogan", {"cgan_epochs", "infogan_epochs"}, _cgan_infogan),
    ("cgan_infogan", {"model", "train_subset", "train_images"}, _cgan_infogan),    # RUN/cgan, RUN/infogan
    ("began", {"lambda_k", "hidden", "gamma"}, _began),
    ("debias", {"model_train", "attribute"}, _debias_classifier),
    ("debias", {"attribute", "protected_attribute", "n_samples"}, _debias),
)


def identify(run_dir):
    """(package, config, adapter) of a run directory of the suite; UserError for anything else."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a folder; pass a run directory a train command wrote")
    if not (run_dir / cli.CONFIG_FILE).is_file():
        raise UserError(f"{run_dir} is not a run directory of this suite (no {cli.CONFIG_FILE}); pass the "
                        "folder a train command wrote (bagan's res_..., dagan's, cgan_infogan's, began's run)")
    config = cli.read_config(run_dir)
    written_by = cli.read_json(run_dir / cli.CONFIG_FILE, "run configuration").get("package")
    rows = [row for row in PACKAGES if row[0] == written_by]
    if rows:
        package, _, adapter = next((row for row in rows if row[1] <= config.keys()), rows[0])
        return package, config, adapter
    for package, keys, adapter in PACKAGES:
        if keys <= config.keys():
            return package, config, adapter
    raise UserError(f"{run_dir / cli.CONFIG_FILE} was written by no package whose generator this suite loads")


def load(run_dir, model=None):
    """The trained generator of a run directory (see the module docstring). `model`: "cgan" or
    "infogan" in a cgan_infogan run (default: cgan when trained); a class tag in a BAGAN run of
    several. Raises UserError when `run_dir` is no run of the suite or has no trained generator."""
    run_dir = Path(run_dir)
    _, config, adapter = identify(run_dir)
    with _float32():
        return adapter(run_dir, config, model)
