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
