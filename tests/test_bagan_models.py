"""BAGAN networks: shapes for every supported size, and the original's parameter counts on MNIST."""
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bagan import models
from common.errors import UserError

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "bagan_keras2"
# Parameter counts of the original Keras 2 models on MNIST (fixture README: G 100*1024 + 1024*6272
# + 5*5*128*256 + 5*5*256*128 + 2*2*128*1; trunk convs with biases; heads 12544*11+11 / 12544*100+100).
MNIST_COUNTS = {"generator": 8163840, "discriminator": 525835, "encoder": 1642340}




def test_mnist_parameter_counts_equal_the_original():
    counts = {"generator": models.build_generator((28, 28, 1)).count_params(),
              "discriminator": models.build_discriminator((28, 28, 1), 10).count_params(),
              "encoder": models.build_encoder((28, 28, 1)).count_params()}
    assert counts == MNIST_COUNTS


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"fixture {FIXTURE} absent")
def test_mnist_parameter_counts_equal_the_fixture_files():
    import h5py

    def h5_count(name):
        sizes = []
        with h5py.File(FIXTURE / name, "r") as f:
            f["model_weights"].visititems(
                lambda _, obj: sizes.append(obj.size) if isinstance(obj, h5py.Dataset) else None)
        return sum(sizes)

    assert h5_count("class_0_generator.h5") == MNIST_COUNTS["generator"]
    assert h5_count("class_0_discriminator.h5") == MNIST_COUNTS["discriminator"]
    assert h5_count("class_0_reconstructor.h5") == MNIST_COUNTS["encoder"]


@pytest.mark.parametrize("shape,r,flat", [((28, 28, 1), 7, 12544), ((32, 32, 3), 8, 16384),
                                          ((64, 64, 3), 8, 16384), ((16, 16, 1), 8, 4096)])
def test_shapes(shape, r, flat):
    assert models.min_latent_resolution(shape[0]) == r
    g = models.build_generator(shape)
    d = models.build_discriminator(shape, 5)
    e = models.build_encoder(shape)
    assert g.output_shape == (None, *shape)
    assert g.get_layer("reshape").output.shape[1:] == (r, r, 128)
    assert d.output_shape == (None, 6)
    assert e.output_shape == (None, 100)
    assert d.get_layer("trunk").output_shape == (None, flat)
    z = np.random.default_rng(0).normal(size=(2, 100)).astype("float32")
    x = np.asarray(g(z))
    assert np.all(np.abs(x) <= 1)
    p = np.asarray(d(x))
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)


def test_generator_layer_order_mirrors_the_original():
    g = models.build_generator((28, 28, 1))
    assert [tuple(w.shape) for w in g.weights] == [(100, 1024), (1024, 6272), (5, 5, 128, 256),
                                                    (5, 5, 256, 128), (2, 2, 128, 1)]
    trunk = models.build_encoder((28, 28, 1)).get_layer("trunk")
    kinds = [type(layer).__name__ for layer in trunk.layers[1:]]
    assert kinds == ["Conv2D", "LeakyReLU", "Dropout"] * 4 + ["Flatten"]
    assert trunk.get_layer("lrelu_1").negative_slope == pytest.approx(0.3)


def test_copy_trunk():
    e = models.build_encoder((28, 28, 1))
    d = models.build_discriminator((28, 28, 1), 10)
    models.copy_trunk(e, d)
    for a, b in zip(e.get_layer("trunk").weights, d.get_layer("trunk").weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("shape", [(30, 30, 1), (28, 32, 1), (28, 28)])
def test_bad_shapes_are_user_errors(shape):
    with pytest.raises(UserError):
        models.build_generator(shape)


def test_gp_networks_pad_and_crop():
    shape = (28, 28, 1)
    emb = models.build_gp_embedding(10)
    g = models.build_gp_generator(emb, models.build_gp_decoder(shape))
    d = models.build_gp_discriminator(shape, 10)
    z = tf.zeros((3, 128))
    y = tf.constant([0, 1, 9], tf.int32)
    x = g([z, y])
    assert x.shape == (3, 28, 28, 1)
    assert d([x, y]).shape == (3, 1)
    assert models.build_gp_encoder(shape).output_shape == (None, 128)


def test_reference_trunk_is_the_reference_classifiers_design():
    from common.metrics.classifier import build_cnn
    d = models.build_discriminator((32, 32, 3), 43, width=0.25, trunk="reference")
    assert d.count_params() == build_cnn((32, 32, 3), 44).count_params()     # K + 1 outputs
    trunk = d.get_layer("trunk")
    assert [l.name for l in trunk.layers if "bn" in l.name] == ["bn_1", "bn_2"]
    assert models.build_encoder((28, 28, 1), trunk="reference").output_shape == (None, models.LATENT_DIM)


def test_copy_trunk_copies_the_reference_trunks_batch_statistics():
    e = models.build_encoder((28, 28, 1), width=0.25, trunk="reference")
    d = models.build_discriminator((28, 28, 1), 10, width=0.25, trunk="reference")
    e.get_layer("trunk").get_layer("bn_1").moving_mean.assign(np.full(32, 0.5, "float32"))
    models.copy_trunk(e, d)
    np.testing.assert_array_equal(d.get_layer("trunk").get_layer("bn_1").moving_mean.numpy(), 0.5)


def test_unknown_trunk_is_refused():
    with pytest.raises(ValueError, match="unknown trunk"):
        models.build_trunk((28, 28, 1), trunk="vgg")
