"""Classifier-based scores for small images, shared by bagan, dagan and cgan_infogan.

`reference_classifier` trains a small CNN once per dataset on its full train split and caches it
(`$GAN_CACHE_DIR/classifiers/<name>-<fingerprint>.keras` + a json with its test accuracy);
`generated_accuracy` asks it whether generated images show the class they were generated for;
`classification_accuracy_score` trains the same CNN on synthetic data and tests it on real data.
"""
import hashlib
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

from common.errors import UserError

# Epochs of the reference classifier (3 gave MNIST 98.98% test accuracy, short of 99%); small sets need
# more: GTSRB's 3,921 images are 31 steps an epoch, test accuracy 0.855 after 15, 0.921 after 40, 0.941
# after 80 epochs (about 2.5 min on a loaded 2-core CPU, once: it is cached).
EPOCHS = {"mnist": 5, "gtsrb": 80, "cifar10": 10}
DEFAULT_EPOCHS = 10
ARCHITECTURE = "cnn3"  # part of the cache key: bump when build_cnn changes


def build_cnn(input_shape, num_classes, decay_steps=None, name="small_cnn"):
    """A small conv net on uint8-valued input (rescaled inside) -> class probabilities.

    Batch norm and a cosine decay of the learning rate to 0 over `decay_steps` let it converge in a
    few epochs, which keeps the reference classifiers cheap on a CPU."""
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        # momentum 0.9: Keras' 0.99 leaves the moving statistics near their initial values after
        # the few hundred steps of a small training set (train accuracy 0.96, test 0.66 measured)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    rate = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps) if decay_steps else 1e-3
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _check(images, labels, what):
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise UserError(f"{what}: need uint8 images shaped (N, H, W, C), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or len(images) == 0:
        raise UserError(f"{what}: need one integer label per image, got {labels.shape} for {len(images)} images")
    return images, labels.astype(np.int64)


def fit_verbose(verbose):
    """Keras' `verbose` for a fit: "auto" = a progress bar with an ETA on a terminal, one line per
    epoch in a log file (where the bar's carriage returns would pile up), as common.training does."""
    return (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose


def train_classifier(images, labels, num_classes=None, epochs=DEFAULT_EPOCHS, batch_size=128, seed=0,
                     verbose=1):
    """Fit the small CNN on uint8 images; returns the model. verbose: Keras' 0/1/2 or "auto"."""
    images, labels = _check(images, labels, "training set")
    num_classes = int(num_classes or labels.max() + 1)
    keras.utils.set_random_seed(seed)
    model = build_cnn(images.shape[1:], num_classes, decay_steps=epochs * -(-len(images) // batch_size))
    import tensorflow as tf

    from common.pipeline import without_autotune    # a fresh iterator per epoch: see there
    data = (tf.data.Dataset.from_tensor_slices((images, labels))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size))
    model.fit(without_autotune(data), epochs=epochs, verbose=fit_verbose(verbose))
    return model


def predict_classes(classifier, images_uint8, batch_size=256):
    images = np.asarray(images_uint8)
    want = tuple(classifier.input_shape[1:])
    if images.dtype != np.uint8 or images.shape[1:] != want:
        raise UserError(f"the classifier takes uint8 images of shape {want}, got {images.dtype} "
                        f"{images.shape[1:]}")
    from common.training import predict      # no retracing warnings when several classifiers predict
    return np.argmax(predict(classifier, images, batch_size=batch_size), axis=-1)


def accuracy(classifier, images_uint8, labels):
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (len(images_uint8),):
        raise UserError(f"need one label per image, got {labels.shape} for {len(images_uint8)} images")
    return float(np.mean(predict_classes(classifier, images_uint8) == labels))


def generated_accuracy(classifier, images_uint8, labels):
    """Fraction of generated images the reference classifier assigns to the class they were
    generated for (`labels` = the classes the generator was asked for)."""
    return accuracy(classifier, images_uint8, labels)


def classification_accuracy_score(train_images, train_labels, test_images, test_labels, num_classes=None,
                                  epochs=DEFAULT_EPOCHS, batch_size=128, seed=0, verbose=0):
    """Train on synthetic, test on real: accuracy on (test_images, test_labels) of the small CNN
    trained on (train_images, train_labels)."""
    test_images, test_labels = _check(test_images, test_labels, "test set")
    num_classes = num_classes or int(max(np.max(train_labels), test_labels.max()) + 1)
    model = train_classifier(train_images, train_labels, num_classes, epochs, batch_size, seed, verbose)
    return accuracy(model, test_images, test_labels)


def fingerprint(data):
    """The identity of a loaded dataset: its pixels, labels and shape."""
    digest = hashlib.sha1(f"{data.images.shape}|{len(data.class_names)}".encode())
    digest.update(np.ascontiguousarray(data.images).data)
    digest.update(np.ascontiguousarray(data.labels, dtype=np.int64).data)
    return digest.hexdigest()[:16]


def reference_classifier(name, data_dir=None, seed=0, epochs=None, verbose="auto", **load_options):
    """The reference CNN for dataset `name`, trained once on its full train split and cached.

    Datasets without a test split (omniglot, a folder) keep a seeded 10% aside for testing instead.
    Its test accuracy is printed and stored beside the model in a json. Training takes minutes on a
    CPU: a line says so first, then Keras shows the epochs' progress (verbose, as train_classifier).
    """
    from common import datasets
    root = datasets.data_dir(data_dir)
    module = datasets.LOADERS.get(str(name).lower())
    if module is not None and "test" in module.SPLITS:
        train = datasets.load(name, "train", root, **load_options)
        test = datasets.load(name, "test", root, **load_options)
    else:  # no test split (omniglot, a folder): hold out a seeded 10% of the one split
        split = "all" if module is not None else "train"
        data = datasets.load(name, split, root, **load_options)
        order = np.random.default_rng(seed).permutation(len(data))
        cut = max(1, len(data) // 10)
        train, test = data.subset(np.sort(order[cut:])), data.subset(np.sort(order[:cut]))
    epochs = epochs or EPOCHS.get(str(name).lower(), DEFAULT_EPOCHS)
    key = f"{Path(str(name)).name.lower()}-{fingerprint(train)}-{ARCHITECTURE}-e{epochs}-s{seed}"
    path = datasets.cache_dir() / "classifiers" / f"{key}.keras"
    info_path = path.with_suffix(".json")
    if path.exists() and info_path.exists():
        try:
            model = keras.models.load_model(path)
            info = json.loads(info_path.read_text())
            print(f"reference classifier {name}: test accuracy {info['test_accuracy']:.4f} (cached {path})")
            return model
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is retrained
    num_classes = max(len(train.class_names), int(train.labels.max()) + 1)
    if verbose:
        print(f"reference classifier {name}: training once on {len(train)} images for {epochs} epochs "
              f"(then cached in {path.parent})", flush=True)
    start = time.time()
    model = train_classifier(train.images, train.labels, num_classes, epochs, seed=seed, verbose=verbose)
    seconds = time.time() - start
    test_accuracy = accuracy(model, test.images, test.labels)
    info = {"dataset": str(name), "load_options": load_options, "fingerprint": fingerprint(train),
            "n_train": len(train), "n_test": len(test), "epochs": epochs, "seed": seed,
            "test_accuracy": test_accuracy, "train_seconds": round(seconds, 1)}
    print(f"reference classifier {name}: test accuracy {test_accuracy:.4f} "
          f"({len(train)} train / {len(test)} test images, {epochs} epochs, {seconds:.0f} s)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.keras")
        model.save(tmp)
        tmp.replace(path)
        info_path.write_text(json.dumps(info, indent=2, sort_keys=True))
    except OSError:
        pass  # the cache is an optimisation only
    return model
