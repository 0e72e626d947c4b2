"""Helpers of the de-biasing tests (no tests here): a CelebA-layout folder of random faces and a
tiny generator."""
from pathlib import Path

import numpy as np
from PIL import Image

from debias.experiment import ATTRIBUTES


def fake_celeba(root, n_train=40, n_val=16, n_test=16, seed=0):
    """root/celeba with img_align_celeba/*.jpg (178x218), list_attr_celeba.txt, list_eval_partition.txt.
    Attributes are random, with the target (Arched_Eyebrows) correlated with Male as in CelebA; images
    carry a little of both so a classifier has something to learn."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    n = n_train + n_val + n_test
    attrs = rng.integers(0, 2, (n, len(ATTRIBUTES)))
    male = attrs[:, ATTRIBUTES.index("Male")]
    attrs[:, ATTRIBUTES.index("Arched_Eyebrows")] = (rng.random(n) < np.where(male == 1, 0.2, 0.7)).astype(int)
    names, lines, parts = [], [], []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        base = rng.integers(0, 120, (218, 178, 3))
        base[:, :, 0] += 100 * attrs[i, ATTRIBUTES.index("Arched_Eyebrows")]
        base[:, :, 2] += 100 * male[i]
        Image.fromarray(base.astype(np.uint8)).save(folder / "img_align_celeba" / name, quality=90)
        names.append(name)
        lines.append(name + " " + " ".join("1" if v else "-1" for v in attrs[i]))
        parts.append(f"{name} {0 if i < n_train else 1 if i < n_train + n_val else 2}")
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(ATTRIBUTES) + "\n" + "\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return Path(root)


def tiny_generator(path, latent=6, size=16, seed=0):
    """z (latent) -> size x size x 3 images in [-1, 1], saved as a .keras file."""
    import keras
    keras.utils.set_random_seed(seed)
    z = keras.Input((latent,), name="z")
    x = keras.layers.Dense(4 * 4 * 8, activation="relu")(z)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.UpSampling2D(size // 4)(x)
    image = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    model = keras.Model(z, image, name="tiny_generator")
    model.save(path)
    return Path(path)
