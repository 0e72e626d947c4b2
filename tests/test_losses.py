"""common.losses: the suite's shared loss rules, checked against values computed by hand."""
import math

import numpy as np
import pytest
import tensorflow as tf

from common import losses


def test_bce_against_a_constant_target():
    logits = tf.constant([[0.0], [2.0], [-1.0]])
    # -log(sigmoid(x)) for target 1, -log(1 - sigmoid(x)) for target 0; one value per example
    np.testing.assert_allclose(losses.bce(logits, 1.0).numpy(),
                               [math.log(2.0), math.log(1 + math.exp(-2.0)), math.log(1 + math.e)], rtol=1e-6)
    np.testing.assert_allclose(losses.bce(logits, 0.0).numpy(),
                               [math.log(2.0), math.log(1 + math.exp(2.0)), math.log(1 + math.exp(-1.0))], rtol=1e-6)


def linear_critic(weights):
    """critic([x, y]) = sum(w * x): its gradient with respect to x is w, whatever x and y are."""
    w = tf.constant(weights, tf.float32)
    return lambda inputs, training=None: tf.reduce_sum(w * inputs[0], axis=[1, 2, 3])


def test_gradient_penalty_is_per_sample_over_height_width_channels():
    # gradient 0.5 at each of 4 x 3 x 3 = 36 entries -> norm 0.5 * 6 = 3, whatever alpha is
    w = np.full((1, 4, 3, 3), 0.5, np.float32)
    real, fake = tf.zeros((2, 4, 3, 3)), tf.ones((2, 4, 3, 3))
    gp = losses.gradient_penalty(linear_critic(w), tf.constant([0, 1]), real, fake, [0.2, 0.9])
    np.testing.assert_allclose(gp.numpy(), [(3.0 - 1.0) ** 2] * 2, rtol=1e-5)


def test_gradient_penalty_height_axes_reproduce_the_tf_original():
    # norm over height only: sqrt(4 * 0.25) = 1 in every (w, c) column -> penalty 0
    w = np.full((1, 4, 3, 3), 0.5, np.float32)
    w[0, :, 0, 0] = 1.0          # one column: sqrt(4 * 1) = 2 -> (2 - 1)^2 = 1, averaged over 9 columns
    real, fake = tf.zeros((1, 4, 3, 3)), tf.ones((1, 4, 3, 3))
    gp = losses.gradient_penalty(linear_critic(w), None, real, fake, [0.5], axes="height")
    np.testing.assert_allclose(gp.numpy(), [1.0 / 9.0], rtol=1e-5)
    with pytest.raises(ValueError, match="axes"):
        losses.gradient_penalty(linear_critic(w), None, real, fake, [0.5], axes="width")


def test_gradient_penalty_is_taken_at_the_interpolate_in_the_asked_mode():
    seen = {}

    def critic(inputs, training=None):      # 0.5 ||x||^2: gradient x_hat itself
        seen["training"] = training
        return 0.5 * tf.reduce_sum(inputs[0] ** 2, axis=[1, 2, 3])
    real, fake = tf.fill((1, 2, 2, 1), 1.0), tf.fill((1, 2, 2, 1), 3.0)
    # x_hat = 1 + 0.25 * 2 = 1.5 everywhere -> norm sqrt(4 * 2.25) = 3 -> (3 - 1)^2 = 4
    gp = losses.gradient_penalty(critic, None, real, fake, [0.25], training=False)
    np.testing.assert_allclose(gp.numpy(), [4.0], rtol=1e-5)
    assert seen["training"] is False
