"""tf.data pipelines from in-memory uint8 arrays.

The order of examples is a pure function of (seed, epoch): epoch e is a stateless shuffle seeded by
[seed, e]. A run resumed at epoch e therefore sees exactly the batches an uninterrupted run sees.
"""
import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
CLASS_MODES = ("uniform", "rebalance")


def scale(images):
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images):
    """float [-1, 1] -> uint8 [0, 255] (NumPy)."""
    return np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def class_probabilities(labels, mode, num_classes=None):
    """Class sampling probabilities. uniform: 1/n each. rebalance (BAGAN): p_c = max(0, 2/n - f_c),
    renormalised, where f_c is the class frequency, so rare classes are drawn more often."""
    labels = np.asarray(labels)
    n = int(num_classes or labels.max() + 1)
    if mode == "uniform":
        return np.full(n, 1.0 / n)
    if mode != "rebalance":
        raise ValueError(f"unknown class sampling mode {mode!r}; choose {CLASS_MODES}")
    freq = np.bincount(labels, minlength=n) / len(labels)
    p = np.maximum(0.0, 2.0 / n - freq)
    return p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)


def epoch_order(n, seed, epoch, sample_weights=None):
    """Indices of one epoch: a permutation, or n draws with replacement weighted per example."""
    seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    if sample_weights is None:
        return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)
    logits = tf.math.log(tf.constant(sample_weights, tf.float32))[None]
    return tf.random.stateless_categorical(logits, n, seed=seed, dtype=tf.int64)[0]


def make_dataset(images, labels=None, batch_size=64, seed=0, start_epoch=0, epochs=None,
                 class_mode=None, shuffle=True, drop_remainder=True):
    """Batches of images scaled to [-1, 1] (with their labels when given), epoch by epoch from
    `start_epoch`; endless when `epochs` is None. `class_mode` draws examples so that classes come
    with `class_probabilities(labels, class_mode)` instead of their natural frequencies.
    Returns (dataset, steps_per_epoch)."""
    n = len(images)
    steps = n // batch_size if drop_remainder else -(-n // batch_size)
    if steps == 0:
        raise ValueError(f"{n} examples are fewer than one batch of {batch_size}")
    weights = None
    if class_mode is not None:
        labels_np = np.asarray(labels)
        p = class_probabilities(labels_np, class_mode)
        weights = p[labels_np] / np.bincount(labels_np, minlength=len(p))[labels_np]
    images_t = tf.constant(images)
    labels_t = None if labels is None else tf.constant(np.asarray(labels, np.int64))

    def one_epoch(epoch):
        order = epoch_order(n, seed, epoch, weights) if shuffle or weights is not None else tf.range(n, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)

    def gather(index):
        x = scale(tf.gather(images_t, index))
        return x if labels_t is None else (x, tf.gather(labels_t, index))

    end = start_epoch + epochs if epochs is not None else np.iinfo(np.int64).max
    ds = tf.data.Dataset.range(start_epoch, end).flat_map(one_epoch)
    ds = ds.map(gather, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)
    if epochs is not None:   # flat_map hides the length; Keras needs it to loop over a finite set cleanly
        ds = ds.apply(tf.data.experimental.assert_cardinality(steps * epochs))
    return ds, steps
