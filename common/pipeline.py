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


def without_autotune(ds):
    """`ds` with tf.data's autotuning model thread off. That thread sleeps in periods that double from
    10 ms up to 60 s, and destroying an iterator waits for its current sleep to end, idle: every fresh
    iterator (a `fit` call, each epoch of a `fit` over arrays, an `evaluate`) cost up to its own
    lifetime again (measured in docs/throughput.md). AUTOTUNE maps then run on every core, and
    prefetch(AUTOTUNE) keeps its own buffer rule, which does not need the thread."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


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
    return without_autotune(ds), steps


def mixed_dataset(real_images, real_labels, synthetic, real_share=0.5, batch_size=64, seed=0,
                  start_epoch=0, epochs=None, class_mode="uniform"):
    """Batches of (images, labels) with the same number of real examples in every batch:
    round(real_share * batch_size) real ones first, then the rest synthetic. Images are scaled to
    [-1, 1] as `make_dataset`'s, labels are int64.

    synthetic: either (images, labels) arrays (uint8, or floats in [-1, 1]), drawn epoch by epoch in
    a shuffled order as the real ones; or a function `fn(labels, seed) -> images` (uint8 or floats in
    [-1, 1]), called once per batch with labels drawn with `class_probabilities(real_labels,
    class_mode)` and a per-batch seed, e.g. `lambda y, s: generator.sample(y, seed=s)` for a
    `common.generators` generator.

    An epoch is one pass over the real images (their count // the real share of a batch); the whole
    stream is a pure function of (seed, step), so a run resumed at `start_epoch` sees the batches an
    uninterrupted run sees. Returns (dataset, steps_per_epoch)."""
    n_real = round(real_share * batch_size)
    n_fake = batch_size - n_real
    if not 0 < real_share < 1 or n_real == 0 or n_fake == 0:
        raise ValueError(f"a real share of {real_share} in batches of {batch_size} leaves {n_real} real and "
                         f"{n_fake} synthetic examples per batch; each needs at least one")
    real, steps = make_dataset(real_images, real_labels, n_real, seed, start_epoch, epochs)
    image_shape = tuple(np.shape(real_images)[1:])
    first_step = start_epoch * steps
    if callable(synthetic):
        fake = _generated_batches(synthetic, real_labels, class_mode, n_fake, image_shape, seed, first_step)
    else:
        images, labels = synthetic
        if tuple(np.shape(images)[1:]) != image_shape:
            raise ValueError(f"synthetic images are {np.shape(images)[1:]}, the real ones {image_shape}")
        fake = _array_batches(np.asarray(images), np.asarray(labels, np.int64), n_fake, seed, first_step)

    def join(r, f):
        return tf.concat([r[0], f[0]], 0), tf.concat([r[1], f[1]], 0)
    ds = tf.data.Dataset.zip(real, fake).map(join, num_parallel_calls=AUTOTUNE, deterministic=True)
    if epochs is not None:
        ds = ds.apply(tf.data.experimental.assert_cardinality(steps * epochs))
    return without_autotune(ds.prefetch(AUTOTUNE)), steps


def _as_scaled(images):
    """uint8 -> [-1, 1]; floats are taken as already in [-1, 1]."""
    images = tf.convert_to_tensor(images)
    return scale(images) if images.dtype == tf.uint8 else tf.cast(images, tf.float32)


def _array_batches(images, labels, batch_size, seed, first_step):
    """Endless batches of a synthetic array, shuffled per epoch of its own (seeded apart from the
    real stream), from batch `first_step` on."""
    n = len(images)
    if n < batch_size:
        raise ValueError(f"{n} synthetic examples are fewer than the {batch_size} a batch takes")
    salted = seed + 1_000_003      # not the real stream's permutations when both have the same length
    order = (tf.data.Dataset.range(np.iinfo(np.int64).max)
             .flat_map(lambda e: tf.data.Dataset.from_tensor_slices(epoch_order(n, salted, e))
                       .batch(batch_size, drop_remainder=True))
             .skip(first_step))    # indices only: skipping is cheap
    images_t, labels_t = tf.constant(images), tf.constant(labels)
    return order.map(lambda i: (_as_scaled(tf.gather(images_t, i)), tf.gather(labels_t, i)),
                     num_parallel_calls=AUTOTUNE, deterministic=True)


def _generated_batches(fn, real_labels, class_mode, batch_size, image_shape, seed, first_step):
    """Endless batches fn(labels, seed) with labels drawn statelessly from (seed, step)."""
    p = class_probabilities(np.asarray(real_labels), class_mode)
    logits = tf.math.log(tf.constant(p, tf.float32))[None]

    def call(labels, step):
        images = np.asarray(fn(labels, int(seed * 1_000_003 + step) % 2**32))
        if images.shape != (len(labels), *image_shape):
            raise ValueError(f"the generator returned {images.shape} for {len(labels)} labels, "
                             f"expected {(len(labels), *image_shape)}")
        if images.dtype == np.uint8:
            return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        return images.astype(np.float32)

    def batch(step):
        labels = tf.random.stateless_categorical(logits, batch_size, seed=tf.stack([tf.constant(seed, tf.int64), step]),
                                                 dtype=tf.int64)[0]
        # stateful: tf.data would otherwise run the calls in parallel, out of order
        images = tf.numpy_function(call, [labels, step], tf.float32, stateful=True)
        return tf.ensure_shape(images, (batch_size, *image_shape)), labels

    # One call at a time: fn is usually a Keras model, which runs its own threads.
    return tf.data.Dataset.range(first_step, np.iinfo(np.int64).max).map(batch)
