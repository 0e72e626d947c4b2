"""The TF-FID InceptionV3 ("2015-12-05" graph, pool3 2048-d) rebuilt as a functional Keras model.

It is the network TTUR's TensorFlow FID and pytorch-fid use, with the original graph's quirks: batch
norm without scale (eps 1e-3, folded into the convolutions here), branch average pools that exclude
padding, and a max pool in the last block. The input goes through TF-FID's own preprocessing: the
legacy TF1 bilinear resize to 299x299 (no half-pixel centres) and `x / 128 - 1`. The weights are the
arrays of `inception_fid_weights.npz` (see shared/data/fid/ARCHITECTURE.md for the layer table).
"""
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from common.errors import UserError
from common.progress import Progress

NAME = "tf-fid-inception-v3-2015-12-05-pool3"
WEIGHTS_FILE = "inception_fid_weights.npz"
SIZE = 299
FEATURES = 2048
_BN_EPS = 1e-3
_models = {}  # resolved weights path -> (model, its traced call), so repeated metric calls build it once


def weights_path(weights=None, data_dir=None):
    """The weight file: `weights`, else $GAN_FID_WEIGHTS, else <data dir>/fid/inception_fid_weights.npz."""
    if weights is None and os.environ.get("GAN_FID_WEIGHTS"):
        weights = os.environ["GAN_FID_WEIGHTS"]
    if weights is None:
        from common.datasets import data_dir as resolve_data_dir
        weights = Path(resolve_data_dir(data_dir)) / "fid" / WEIGHTS_FILE
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"FID Inception weights not found at {path}; pass the path, set GAN_FID_WEIGHTS, "
                        f"or put {WEIGHTS_FILE} in <data dir>/fid/ (convert pytorch-fid's "
                        "pt_inception-2015-12-05-6726825d.pth with python -m common.metrics.convert_fid_weights)")
    return path


class LegacyResize(layers.Layer):
    """TF1 `ResizeBilinear(align_corners=False, half_pixel_centers=False)` to 299x299, the resize
    TF-FID uses; `keras.layers.Resizing` samples at half-pixel centres and shifts pool3 by up to 0.45."""

    def call(self, x):
        return tf.raw_ops.ResizeBilinear(images=x, size=[SIZE, SIZE], align_corners=False,
                                         half_pixel_centers=False)

    def compute_output_shape(self, shape):
        return (shape[0], SIZE, SIZE, shape[-1])


def _unit(x, name, filters, kernel, strides=1, padding="valid"):
    """One conv unit (conv, scale-free batch norm, ReLU), with the batch norm folded into the conv."""
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, activation="relu",
                         name=name.replace(".", "__"))(x)


def _block_a(x, p, pool_filters):
    b0 = _unit(x, f"{p}.conv", 64, 1)
    b1 = _unit(_unit(x, f"{p}.tower.conv", 48, 1), f"{p}.tower.conv_1", 64, 5, padding="same")
    b2 = _unit(x, f"{p}.tower_1.conv", 64, 1)
    b2 = _unit(b2, f"{p}.tower_1.conv_1", 96, 3, padding="same")
    b2 = _unit(b2, f"{p}.tower_1.conv_2", 96, 3, padding="same")
    # Keras/TF 'same' average pooling divides by the in-image count (count_include_pad=False).
    b3 = _unit(layers.AveragePooling2D(3, 1, "same")(x), f"{p}.tower_2.conv", pool_filters, 1)
    return layers.Concatenate()([b0, b1, b2, b3])


def _block_b(x, p):
    b0 = _unit(x, f"{p}.conv", 384, 3, strides=2)
    b1 = _unit(x, f"{p}.tower.conv", 64, 1)
    b1 = _unit(b1, f"{p}.tower.conv_1", 96, 3, padding="same")
    b1 = _unit(b1, f"{p}.tower.conv_2", 96, 3, strides=2)
    return layers.Concatenate()([b0, b1, layers.MaxPooling2D(3, 2)(x)])


def _block_c(x, p, c):
    b0 = _unit(x, f"{p}.conv", 192, 1)
    b1 = _unit(x, f"{p}.tower.conv", c, 1)
    b1 = _unit(b1, f"{p}.tower.conv_1", c, (1, 7), padding="same")
    b1 = _unit(b1, f"{p}.tower.conv_2", 192, (7, 1), padding="same")
    b2 = _unit(x, f"{p}.tower_1.conv", c, 1)
    for i, (k, n) in enumerate((((7, 1), c), ((1, 7), c), ((7, 1), c), ((1, 7), 192)), 1):
        b2 = _unit(b2, f"{p}.tower_1.conv_{i}", n, k, padding="same")
    b3 = _unit(layers.AveragePooling2D(3, 1, "same")(x), f"{p}.tower_2.conv", 192, 1)
    return layers.Concatenate()([b0, b1, b2, b3])


def _block_d(x, p):
    b0 = _unit(_unit(x, f"{p}.tower.conv", 192, 1), f"{p}.tower.conv_1", 320, 3, strides=2)
    b1 = _unit(x, f"{p}.tower_1.conv", 192, 1)
    b1 = _unit(b1, f"{p}.tower_1.conv_1", 192, (1, 7), padding="same")
    b1 = _unit(b1, f"{p}.tower_1.conv_2", 192, (7, 1), padding="same")
    b1 = _unit(b1, f"{p}.tower_1.conv_3", 192, 3, strides=2)
    return layers.Concatenate()([b0, b1, layers.MaxPooling2D(3, 2)(x)])


def _block_e(x, p, pool):
    a = _unit(x, f"{p}.tower_conv", 384, 1)
    b = _unit(_unit(x, f"{p}.tower_1_conv", 448, 1), f"{p}.tower_1_conv_1", 384, 3, padding="same")
    return layers.Concatenate()([
        _unit(x, f"{p}.conv", 320, 1),
        _unit(a, f"{p}.tower_mixed_conv", 384, (1, 3), padding="same"),
        _unit(a, f"{p}.tower_mixed_conv_1", 384, (3, 1), padding="same"),
        _unit(b, f"{p}.tower_1_mixed_conv", 384, (1, 3), padding="same"),
        _unit(b, f"{p}.tower_1_mixed_conv_1", 384, (3, 1), padding="same"),
        # mixed_9 averages, mixed_10 max-pools here: a known feature of the TF FID graph.
        _unit(pool(3, 1, "same")(x), f"{p}.tower_2_conv", 192, 1)])


def build_network():
    """The architecture with untrained weights: float grey levels 0..255, any size, 3 channels
    -> (N, 2048) pool3 features."""
    inputs = keras.Input((None, None, 3), name="grey_levels")
    x = LegacyResize(name="legacy_resize")(inputs)
    x = layers.Rescaling(1 / 128, offset=-1, name="tf_fid_scaling")(x)
    x = _unit(x, "conv", 32, 3, strides=2)
    x = _unit(x, "conv_1", 32, 3)
    x = _unit(x, "conv_2", 64, 3, padding="same")
    x = layers.MaxPooling2D(3, 2, name="pool0")(x)
    x = _unit(x, "conv_3", 80, 1)
    x = _unit(x, "conv_4", 192, 3)
    x = layers.MaxPooling2D(3, 2, name="pool1")(x)
    x = _block_a(x, "mixed", 32)
    x = _block_a(x, "mixed_1", 64)
    x = _block_a(x, "mixed_2", 64)
    x = _block_b(x, "mixed_3")
    for i, c in zip(range(4, 8), (128, 160, 160, 192)):
        x = _block_c(x, f"mixed_{i}", c)
    x = _block_d(x, "mixed_8")
    x = _block_e(x, "mixed_9", layers.AveragePooling2D)
    x = _block_e(x, "mixed_10", layers.MaxPooling2D)
    outputs = layers.GlobalAveragePooling2D(name="pool3")(x)
    return keras.Model(inputs, outputs, name="tf_fid_inception_v3")


def load_weights(model, path):
    """Fold each unit's `relu((conv(x) - mean) / sqrt(var + 1e-3) + beta)` into one biased conv
    (in float64, stored as float32) and load it."""
    with np.load(path) as w:
        arrays = dict(w.items())
    convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
    expected = 4 * len(convs)
    if len(arrays) != expected:
        raise UserError(f"{path} holds {len(arrays)} arrays, not the {expected} of the TF-FID Inception; "
                        "it is not an inception_fid_weights.npz")
    for layer in convs:
        key = "net.layers." + layer.name.replace("__", ".")
        try:
            kernel, beta, mean, var = (arrays[f"{key}.{p}"].astype(np.float64)
                                       for p in ("weight", "beta", "mean", "var"))
        except KeyError:
            raise UserError(f"{path} lacks {key}.*; it is not an inception_fid_weights.npz") from None
        kernel = np.transpose(kernel, (2, 3, 1, 0))  # PyTorch OIHW -> Keras HWIO
        if kernel.shape != tuple(layer.kernel.shape):
            raise UserError(f"{path}: {key}.weight has shape {kernel.shape}, expected {tuple(layer.kernel.shape)}")
        inv = 1.0 / np.sqrt(var + _BN_EPS)
        layer.set_weights([(kernel * inv).astype(np.float32), (beta - mean * inv).astype(np.float32)])
    return model


def inception(weights=None, data_dir=None):
    """The TF-FID InceptionV3 with its weights (built once per weight file per process)."""
    return _network(weights, data_dir)[0]


def _network(weights=None, data_dir=None):
    path = weights_path(weights, data_dir).resolve()
    if path not in _models:
        model = load_weights(build_network(), path)
        _models[path] = model, tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return _models[path]


def check_images(images, what="images"):
    """uint8 (N, H, W), (N, H, W, 1) or (N, H, W, 3) with N >= 1, else a UserError."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise UserError(f"FID/KID need uint8 {what} (0..255), got {images.dtype}; convert with "
                        "common.pipeline.to_uint8")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)) \
            or len(images) == 0:
        raise UserError(f"FID/KID need {what} shaped (N, H, W) or (N, H, W, 1|3), got {images.shape}")
    return images


def as_rgb_float(images):
    """uint8 grey or RGB images -> float32 RGB grey levels (grey tiled to 3 channels)."""
    images = check_images(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images.astype(np.float32)


def pool3(images_uint8, weights=None, data_dir=None, batch_size=50, verbose=1, what="Inception features"):
    """pool3 features (N, 2048) float32 of uint8 images, in batches, with progress lines (`what` names
    them) unless verbose is 0."""
    images = check_images(images_uint8)
    _, run = _network(weights, data_dir)
    out = np.empty((len(images), FEATURES), np.float32)
    progress = Progress(len(images), what, unit="images", interval=10, verbose=bool(verbose))
    for start in range(0, len(images), batch_size):
        batch = as_rgb_float(images[start:start + batch_size])
        out[start:start + len(batch)] = run(tf.constant(batch)).numpy()
        progress.step(n=len(batch))
    return out
