"""Losses shared by the suite's GANs."""
import tensorflow as tf

KERAS2_EPSILON = 1e-7    # Keras 2's K.epsilon(), the clip of its probability losses


def clipped_sparse_categorical_crossentropy(labels, probs, epsilon=KERAS2_EPSILON):
    """Per-sample -log(clip(p_y, eps, 1 - eps)) on probabilities (e.g. a softmax layer's output).

    This is Keras 2.x's `sparse_categorical_crossentropy` with `from_logits=False`: a sample whose
    target probability is below eps costs -log(eps) = 16.118 and passes no gradient. (Keras 2 also
    renormalised the clipped probabilities, a change of at most K * eps.) Keras 3 on TensorFlow,
    given a softmax layer's output, takes the loss from the layer's logits instead: no clip, and the
    full gradient however small p_y is.
    """
    probs = tf.convert_to_tensor(probs)
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    p = tf.gather(probs, labels, axis=-1, batch_dims=1)
    return -tf.math.log(tf.clip_by_value(p, epsilon, 1.0 - epsilon))


MS_EPSILON = 1e-5   # MSGAN's eps in lambda / (L_ms + eps)


def mode_seeking(fake1, fake2, z1, z2):
    """MSGAN's ratio L_ms = mean|fake1 - fake2| / mean|z1 - z2| (Mao et al. 2019; means over the
    whole batch): a generator lowers lambda / (L_ms + eps) only by making its output depend on z."""
    return tf.reduce_mean(tf.abs(fake1 - fake2)) / tf.reduce_mean(tf.abs(z1 - z2))


def bce(logits, target):
    """Per-example binary cross-entropy of one-unit logits (B, 1) against a constant target
    (1.0 = real, 0.0 = fake): the sigmoid is in the loss, not in the networks."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)[:, 0]


GP_AXES = ("sample", "height")


def gradient_penalty(critic, conditioning, real, fake, alpha, axes="sample", training=True):
    """WGAN-GP's per-sample penalties (||grad_x critic([x_hat, conditioning])||_2 - 1)^2 at
    x_hat = real + alpha (fake - real), alpha one value per sample.

    axes="sample": the norm of each sample's gradient over height, width and channels (the WGAN-GP
    definition, BAGAN-GP's and DAGAN's). axes="height": DAGAN's TF original `sqrt(sum(grad^2, axis=1))`
    on NHWC, a norm over height only whose penalty is then averaged over (width, channels); kept to
    reproduce it. 1e-12 inside the sqrt keeps the gradient finite at a zero gradient."""
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1, 1, 1, 1])
    x_hat = real + alpha * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        score = critic([x_hat, conditioning], training=training)
    grad = tape.gradient(score, x_hat)
    if axes == "sample":
        norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]) + 1e-12)
        return tf.square(norm - 1.0)
    if axes == "height":
        norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=1) + 1e-12)      # (B, W, C)
        return tf.reduce_mean(tf.square(norm - 1.0), axis=[1, 2])
    raise ValueError(f"gradient penalty axes must be one of {GP_AXES}, not {axes!r}")
