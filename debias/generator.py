"""A generator of the suite as de-biasing sees it: a Keras model with one latent input + its prior.

Sources:
  * a `.keras` file holding the generator model (prior from --latent-prior, default uniform [-1, 1]);
  * a run directory with a `generator.keras` in it;
  * a BEGAN run directory (config.json with BEGAN's keys + checkpoints/): the GAN is rebuilt from the
    run's config and its latest checkpoint restored; BEGAN's prior is uniform in [-1, 1].
"""
import json
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError

PRIORS = ("uniform", "normal")
EXPORT = "generator.keras"


class LatentGenerator:
    """model: z (batch, dim) -> images in [-1, 1]; prior: 'uniform' (in [-1, 1]) or 'normal'."""

    def __init__(self, model, prior, source):
        if prior not in PRIORS:
            raise UserError(f"latent prior {prior!r} is unknown; choose one of {', '.join(PRIORS)}")
        shape = model.input_shape
        if isinstance(shape, list) or len(shape) != 2:
            raise UserError(f"{source}: the generator must take one latent vector (batch, dim), "
                            f"its input shape is {shape}")
        self.model, self.prior, self.source = model, prior, str(source)
        self.latent_dim = int(shape[-1])
        out = model.output_shape
        if len(out) != 4 or out[-1] not in (1, 3):
            raise UserError(f"{source}: the generator must output images (batch, H, W, 1 or 3), not {out}")
        self.image_shape = tuple(int(v) for v in out[1:])

    def sample(self, n, seed):
        rng = np.random.default_rng(seed)
        if self.prior == "uniform":
            return rng.uniform(-1.0, 1.0, (n, self.latent_dim)).astype(np.float32)
        return rng.standard_normal((n, self.latent_dim)).astype(np.float32)

    def render(self, z, batch_size=256):
        """uint8 RGB images G(z) at the generator's resolution (grey outputs are repeated to RGB)."""
        import keras
        from common.pipeline import to_uint8
        z = np.asarray(z, np.float32)
        images = np.concatenate([keras.ops.convert_to_numpy(self.model(z[i:i + batch_size], training=False))
                                 for i in range(0, len(z), batch_size)])
        images = to_uint8(np.clip(images, -1.0, 1.0))
        return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images

    def describe(self):
        return {"source": self.source, "prior": self.prior, "latent_dim": self.latent_dim,
                "image_shape": list(self.image_shape), "name": self.model.name}


def _run_config(run_dir):
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())["config"]
    except (ValueError, KeyError) as e:
        raise UserError(f"{path}: not a run's config.json ({e})") from None


def _began(run_dir, config):
    from began import gan
    from common import training
    if not (Path(run_dir) / cli.STATE_FILE).exists():
        raise UserError(f"{run_dir}: the BEGAN run has no checkpoint yet; train it first "
                        f"(python -m began.train ... --out {Path(run_dir).parent})")
    model = gan.build(config, steps_per_epoch=1)()
    epoch = training.load_checkpoint(model, run_dir)
    return model.generator, epoch


def check_source(source):
    """Cheap check (no TensorFlow) that a generator source exists; returns it as a Path."""
    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"generator checkpoint {path} does not exist; pass --generator with a .keras "
                        "file or a generator run directory (e.g. results/began/<run>)")
    if path.is_file() and path.suffix != ".keras":
        raise UserError(f"generator {path} is not a .keras file; pass a .keras file or a run directory")
    return path


def load(source, prior=None):
    """A LatentGenerator from a `.keras` file or a run directory (see the module docstring)."""
    import keras
    path = check_source(source)
    if path.is_dir() and (path / EXPORT).exists():
        path = path / EXPORT
    if path.is_file():
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=False)
        except Exception as e:
            raise UserError(f"cannot load generator {path}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        if not isinstance(model, keras.Model):
            raise UserError(f"{path} does not hold a Keras model")
        return LatentGenerator(getattr(model, "generator", model), prior or "uniform", path)
    config = _run_config(path)
    if config is not None and "lambda_k" in config and "hidden" in config:
        model, epoch = _began(path, config)
        if prior not in (None, "uniform"):
            raise UserError(f"BEGAN's latent prior is uniform in [-1, 1], not {prior}; drop --latent-prior")
        return LatentGenerator(model, "uniform", f"{path} (BEGAN, epoch {epoch})")
    raise UserError(f"{path}: neither a BEGAN run directory nor a directory with {EXPORT}; "
                    "pass a generator .keras file")
