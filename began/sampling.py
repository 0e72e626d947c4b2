"""Images from a trained BEGAN run: the run restored from its checkpoint, z, samples, interpolations,
reconstructions of held-out images, grids. Used by began.generate and began.evaluate."""
from pathlib import Path

import numpy as np

from common import cli
from common.errors import UserError


def read_config(run_dir):
    run_dir = Path(run_dir)
    if not (run_dir / cli.CONFIG_FILE).exists():
        raise UserError(f"{run_dir} is not a BEGAN run directory (no {cli.CONFIG_FILE}); "
                        "pass the folder began.train wrote")
    if not (run_dir / cli.STATE_FILE).exists():
        raise UserError(f"{run_dir} has no checkpoint yet; train it first (python -m began.train ...)")
    return cli.read_config(run_dir)


def load_run(run_dir):
    """(config, model) of a run, with its latest checkpoint restored."""
    config = read_config(run_dir)
    from began import gan
    from common import training
    model = gan.build(config, steps_per_epoch=1)()
    epoch = training.load_checkpoint(model, run_dir)
    return config, model, epoch


def generate(model, z):
    return np.clip(model.generator.predict(np.asarray(z, np.float32), verbose=0), -1, 1)


def latent(model, n, seed):
    """z ~ U[-1, 1]^h from NumPy (reproducible per seed, independent of the model's RNG)."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, model.hidden)).astype(np.float32)


def interpolations(model, pairs, steps, seed):
    """(pairs, steps, H, W, C): G on the straight line between two z (the paper's Figure 4)."""
    ends = latent(model, 2 * pairs, seed).reshape(pairs, 2, -1)
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    z = (1 - t) * ends[:, :1] + t * ends[:, 1:]
    return generate(model, z.reshape(pairs * steps, -1)).reshape(pairs, steps, *model.generator.output_shape[1:])


def held_out_images(config, data_dir, n=None, seed=0):
    """Real images the model did not train on: CelebA's test split; for a folder, its own images."""
    from began.data import load_images
    images = load_images(config, data_dir, split="test")
    if n is not None and n < len(images):
        images = images[np.sort(np.random.default_rng(seed).permutation(len(images))[:n])]
    return images


def reconstructions(model, images_uint8):
    """(2, N, H, W, C): real images in [-1, 1] over D's reconstructions of them."""
    from common import pipeline
    real = np.asarray(pipeline.scale(images_uint8))
    return np.stack([real, np.clip(model.reconstruct(real).numpy(), -1, 1)])


def grid(images, cols):
    rows = -(-len(images) // cols)
    pad = rows * cols - len(images)
    images = np.concatenate([images, np.full((pad, *images.shape[1:]), -1.0, images.dtype)])
    return images.reshape(rows, cols, *images.shape[1:])
