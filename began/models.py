"""BEGAN networks (Berthelot et al. 2017; layout of carpedm20/BEGAN-tensorflow, channels-last).

The discriminator is an autoencoder: an encoder of 3x3 ELU convolutions, two per scale, with stride-2
convolutions between scales and n, 2n, 3n, ... filters, down to 8x8, then a LINEAR fully connected
bottleneck of size h; and a decoder that maps h back to an image by a linear FC to 8x8xn, two 3x3 ELU
convolutions per scale and nearest-neighbour up-sampling. The generator has the decoder's shape with
its own weights. Outputs are linear (carpedm20), in the [-1, 1] scale of the data.
"""
import math

import keras

from began import IMAGE_SIZES
from common.errors import UserError
BASE = 8   # the smallest feature map is 8x8


def scales(image_size):
    """Number of resolutions from 8x8 up to the image size: log2(size) - 2 (carpedm20's repeat_num)."""
    if image_size not in IMAGE_SIZES:
        raise UserError(f"image size {image_size} is not supported; choose one of "
                        f"{', '.join(map(str, IMAGE_SIZES))}")
    return int(math.log2(image_size)) - 2


def _conv(x, filters, strides=1, activation="elu", name=None):
    return keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation=activation,
                               name=name)(x)


def decoder(image_size=64, num_filters=128, hidden=64, channels=3, name="decoder"):
    """h (or z) -> image: FC to 8x8xn (linear), [conv n ELU x2, NN up-sample x2] per scale, conv 3 linear."""
    repeat = scales(image_size)
    code = keras.Input((hidden,), name=f"{name}_input")
    x = keras.layers.Dense(BASE * BASE * num_filters, name=f"{name}_fc")(code)   # linear
    x = keras.layers.Reshape((BASE, BASE, num_filters))(x)
    for level in range(repeat):
        x = _conv(x, num_filters, name=f"{name}_conv{level}a")
        x = _conv(x, num_filters, name=f"{name}_conv{level}b")
        if level < repeat - 1:
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up{level}")(x)
    image = _conv(x, channels, activation=None, name=f"{name}_out")
    return keras.Model(code, image, name=name)


def encoder(image_size=64, num_filters=128, hidden=64, channels=3, name="encoder"):
    """image -> h: conv n ELU, then per scale i conv (i+1)n ELU x2 and a stride-2 conv (i+1)n ELU
    between scales, then a LINEAR FC to h (a ReLU here collapses training: carpedm20 issue #3)."""
    repeat = scales(image_size)
    image = keras.Input((image_size, image_size, channels), name=f"{name}_input")
    x = _conv(image, num_filters, name=f"{name}_conv_in")
    for level in range(repeat):
        width = num_filters * (level + 1)
        x = _conv(x, width, name=f"{name}_conv{level}a")
        x = _conv(x, width, name=f"{name}_conv{level}b")
        if level < repeat - 1:
            x = _conv(x, width, strides=2, name=f"{name}_down{level}")
    x = keras.layers.Flatten()(x)
    code = keras.layers.Dense(hidden, name=f"{name}_fc")(x)   # linear bottleneck
    return keras.Model(image, code, name=name)


def generator(image_size=64, num_filters=128, hidden=64, channels=3):
    """z (size `hidden`, uniform in [-1, 1]) -> image; shaped like the discriminator's decoder."""
    return decoder(image_size, num_filters, hidden, channels, name="generator")


def discriminator(image_size=64, num_filters=128, hidden=64, channels=3):
    """The autoencoder D(v) = decoder(encoder(v)); its encoder and decoder are reachable by name."""
    enc = encoder(image_size, num_filters, hidden, channels)
    dec = decoder(image_size, num_filters, hidden, channels)
    image = keras.Input((image_size, image_size, channels), name="discriminator_input")
    return keras.Model(image, dec(enc(image)), name="discriminator")
