"""DAGAN networks (AntreasAntoniou/DAGAN `dagan_architectures.py`), as Keras Functional models.

Both are built from "dense multi-layers": every 3x3 conv of a block sees the concatenation of the
block's input, the layer two steps back in the whole network (resized when it lives at another
resolution) and every earlier output of the block.

- generator(image_shape): (x_i, z) -> x_g. A UResNet: encoder levels of dense blocks ending in a
  stride-2 conv, a decoder that mirrors them (nearest-neighbour resize + ConvT), z projected and
  concatenated into the first three decoder stages, U-Net skips, x_i concatenated at full resolution,
  tanh head. Batch norm (optionally batch renormalisation, as the TF original), dropout on every
  resolution-changing conv.
- critic(image_shape): (candidate, x_i) -> score. The same dense encoder on their channel concatenation
  with layer norm (per sample over H, W, C; affine per channel) and dropout 0.5 on the stride-2 convs
  of levels 1-3 (both originals), then [spatial mean -> Dense(1024)] beside the flattened last level
  -> Dense(1).

Fixed against the originals: any channel count (dagan_torch hard-codes 1) and height != width (the TF
code swaps them), because every size here is read from the tensors themselves.
"""
import math

import keras
from keras import layers

WIDTHS = (64, 64, 128, 128)
Z_FILTERS = (8, 4, 2)   # channels of the projected z at decoder stages 0, 1, 2 (TF original)
# Both originals add 1e-12 (TF contrib layer_norm's default; dagan_torch's _LayerNorm); 1e-5 keeps a
# float32 critic and its gradient penalty finite on a near-constant feature map.
LAYER_NORM_EPSILON = 1e-5


def lrelu(x):
    return layers.LeakyReLU(0.2)(x)


def spatial(x):
    return tuple(x.shape[1:3])


def match(skip, like):
    """Bring a skip connection to `like`'s height and width: a stride-2 conv going down (TF original),
    a nearest-neighbour resize going up; channels are kept."""
    if spatial(skip) == spatial(like):
        return skip
    if skip.shape[1] > like.shape[1]:
        skip = layers.Conv2D(skip.shape[-1], 3, strides=2, padding="same")(skip)
    if spatial(skip) != spatial(like):
        skip = layers.Resizing(*spatial(like), interpolation="nearest")(skip)
    return skip


@keras.saving.register_keras_serializable(package="dagan")
class PairedDropout(layers.Dropout):
    """Dropout that, while `paired` is set (by DAGAN's mode-seeking step, which runs G on the doubled
    batch [(x, z1), (x, z2)]), draws one mask for the first half of the batch and reuses it for the
    second: G(x, z1) and G(x, z2) then differ only through z. Otherwise plain dropout."""
    paired = False

    def call(self, inputs, training=False):
        if not (training and self.paired and self.rate > 0):
            return super().call(inputs, training=training)
        first, _ = keras.ops.split(inputs, 2, axis=0)
        mask = keras.random.dropout(keras.ops.ones_like(first), self.rate, seed=self.seed_generator)
        return inputs * keras.ops.concatenate([mask, mask], axis=0)


class Dense:
    """Bookkeeping of the dense topology: `history` holds every layer output of the network so far
    (for the skip from two layers back), `block` the outputs of the current block."""

    def __init__(self, norm, dropout_layer=layers.Dropout):
        self.norm, self.history, self.block = norm, [], []
        self.dropout_layer = dropout_layer

    def inputs(self, x):
        seen = [x]
        parts = [x]
        if len(self.history) >= 2 and not any(self.history[-2] is b for b in self.block + seen):
            parts.append(match(self.history[-2], x))
        for b in self.block:   # the TF code removes duplicates the same way
            if not any(b is s for s in seen) and spatial(b) == spatial(x):
                seen.append(b)
                parts.append(b)
        return layers.Concatenate()(parts) if len(parts) > 1 else x

    def layer(self, x, width):
        """One stride-1 dense conv -> LReLU -> norm."""
        y = self.norm()(lrelu(layers.Conv2D(width, 3, padding="same")(self.inputs(x))))
        self.history.append(y)
        self.block.append(y)
        return y

    def down(self, x, width, dropout):
        y = layers.Conv2D(width, 3, strides=2, padding="same")(self.inputs(x))
        y = self.norm()(lrelu(y))
        y = self.dropout_layer(dropout)(y) if dropout else y
        self.history.append(y)
        return y

    def up(self, x, width, size, dropout):
        y = layers.Resizing(*size, interpolation="nearest")(self.inputs(x))
        y = self.norm()(lrelu(layers.Conv2DTranspose(width, 3, padding="same")(y)))
        y = self.dropout_layer(dropout)(y) if dropout else y
        self.history.append(y)
        return y

    def encoder(self, x, widths, inner_layers, dropout):
        """Level 0: conv(s2); levels 1..: `inner_layers` dense convs then a dense stride-2 conv.
        Returns the output of every level."""
        levels = []
        y = self.norm()(lrelu(layers.Conv2D(widths[0], 3, strides=2, padding="same")(x)))
        self.history += [x, y]
        levels.append(y)
        for width in widths[1:]:
            self.block = [y]
            for _ in range(inner_layers):
                y = self.layer(y, width)
            y = self.down(y, width, dropout)
            levels.append(y)
        return levels


def _check(image_shape, widths):
    if len(image_shape) != 3 or min(image_shape) < 1 or min(image_shape[:2]) < 2 or not widths:
        raise ValueError(f"need an image shape (height >= 2, width >= 2, channels) and widths, "
                         f"got {image_shape} and {widths}")


def generator(image_shape=(28, 28, 1), widths=WIDTHS, inner_layers=3, z_dim=100, dropout=0.5,
              renorm=False, z_filters=Z_FILTERS, paired_dropout=False, name="generator"):
    """The UResNet generator G(x_i, z). Omniglot feature maps: 14x14x64, 7x7x64, 4x4x128, 2x2x128.
    paired_dropout: its dropout layers are PairedDropout (for the mode-seeking option "shared")."""
    image_shape = tuple(int(s) for s in image_shape)
    _check(image_shape, widths)
    x_i = keras.Input(image_shape, name="x_i")
    z = keras.Input((z_dim,), name="z")
    net = Dense(lambda: layers.BatchNormalization(momentum=0.99, renorm=renorm),
                PairedDropout if paired_dropout else layers.Dropout)
    levels = net.encoder(x_i, widths, inner_layers, dropout)
    # Decoder: stage s works at the resolution of encoder level L-1-s, then goes up to the next one;
    # the last stage works at full resolution. Targets of the U-Net skips: levels L-2..0, then x_i.
    skips = levels[-2::-1] + [x_i]
    y = levels[-1]
    for stage in range(len(widths) + 1):
        if stage < len(z_filters):
            h, w = spatial(y)
            f = z_filters[stage]
            projected = layers.Reshape((h, w, f))(layers.Dense(h * w * f)(z))
            y = layers.Concatenate()([y, projected])
        width = widths[max(len(widths) - 1 - stage, 0)]
        net.block = [y]
        for _ in range(inner_layers):
            y = net.layer(y, width)
        if stage < len(widths):
            skip = skips[stage]
            y = net.up(y, width, spatial(skip), dropout)
            y = layers.Concatenate()([y, skip])
    for _ in range(2):
        y = layers.BatchNormalization(momentum=0.99, renorm=renorm)(
            lrelu(layers.Conv2D(widths[0], 3, padding="same")(y)))
    out = layers.Activation("tanh", dtype="float32")(layers.Conv2D(image_shape[-1], 3, padding="same")(y))
    return keras.Model([x_i, z], out, name=name)


def layer_norm(epsilon=LAYER_NORM_EPSILON):
    """The originals' critic norm: mean and variance of each sample over (H, W, C), then gamma and beta
    per channel (TF `layer_norm` with its parameters on the last axis; dagan_torch's LayerNorm over
    (C, H, W)). One group of GroupNormalization is exactly that; Keras' LayerNormalization over
    (1, 2, 3) would instead learn a gamma and beta per position."""
    return layers.GroupNormalization(groups=1, epsilon=epsilon)


def critic(image_shape=(28, 28, 1), widths=WIDTHS, inner_layers=5, dropout=0.5, dense_units=1024,
           wide=False, name="critic"):
    """The DenseNet critic D(candidate, x_i) with layer norm (no batch statistics, as WGAN-GP needs).
    dropout: rate after the stride-2 convs of levels 1.. (0.5 in both originals, active whenever the
    critic is called with training=True). wide: the head reads every level (TF
    `--use_wide_connections`) instead of the last one."""
    image_shape = tuple(int(s) for s in image_shape)
    _check(image_shape, widths)
    candidate = keras.Input(image_shape, name="candidate")
    x_i = keras.Input(image_shape, name="x_i")
    net = Dense(layer_norm)
    levels = net.encoder(layers.Concatenate()([candidate, x_i]), widths, inner_layers, dropout)
    used = levels if wide else levels[-1:]
    means = [layers.GlobalAveragePooling2D()(v) for v in used]
    flats = [layers.Flatten()(v) for v in used]
    feature = layers.Concatenate()(means) if wide else means[0]
    feature = lrelu(layers.Dense(dense_units)(feature))
    head = layers.Concatenate()([feature, *flats])
    return keras.Model([candidate, x_i], layers.Dense(1, dtype="float32")(head), name=name)


def feature_sizes(image_shape, levels=len(WIDTHS)):
    """Spatial sizes of the encoder levels (SAME padding, stride 2): 28 -> 14, 7, 4, 2."""
    h, w = image_shape[:2]
    sizes = []
    for _ in range(levels):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes
