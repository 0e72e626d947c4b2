"""The networks of kalpak92/Data-Augmentation-using-CGAN-and-InfoGAN as Keras 3 Functional builders,
channels-last (REFERENCE.md section 3b).

- CGAN (the deeplearning.ai course model): G maps [z (64), one-hot label (10)] as a 1x1x74 map
  through transposed convs 256 (k3 s2) -> 3, 128 (k4 s1) -> 6, 64 (k3 s2) -> 13, 1 (k4 s2) -> 28,
  batch norm + ReLU, tanh. D sees the image plus 10 label planes: convs 64, 128 (k4 s2) with batch
  norm + LeakyReLU(0.2), then a k4 s2 conv to one logit. Convs N(0, 0.02), BN gamma N(0, 0.02).
- InfoGAN (the common PyTorch MNIST model, bias-free but for D's first conv): G maps [z (62), one-hot code (10),
  2 continuous codes] through 1024 (k1), 128 (k7) -> 7, 64 (k4 s2) -> 14, 1 (k4 s2) -> 28 with
  sigmoid; the k1/k7 layers on 1x1 maps are written as the dense layers they are. The discriminator is one model with a shared trunk (64, 128 k4 s2, 1024 k7, LeakyReLU
  0.1), a real/fake head (one logit) and a Q head (128 + BN + LeakyReLU(0.1), then 10 category
  logits, 2 means and 2 log-variances). Convs N(0, 0.02), BN gamma N(1, 0.02).
- The classifier of `convNet.py`: 3 x [conv3x3 6/12/24 -> BN -> maxpool 2 -> ReLU] -> 216 features
  -> FC 120 -> BN -> ReLU -> Dropout -> FC 60 -> BN -> ReLU -> Dropout -> 10 logits; Kaiming-normal
  convs, Xavier-normal (gain sqrt 2) dense layers.

Every generator outputs [-1, 1], the suite's one normalisation for images: the InfoGAN's sigmoid s
is followed by 2s - 1 (REFERENCE 3g.2: the original mixed [-1, 1], [0, 1] and z-scored images).
Batch norm uses PyTorch's defaults: momentum 0.1 there is 0.9 in Keras, epsilon 1e-5.
"""
import keras
from keras import layers

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
CGAN_Z = 64
INFO_Z, INFO_CAT, INFO_CONT = 62, 10, 2

_conv_init = keras.initializers.RandomNormal(0.0, 0.02)


def _bn(name, gamma_mean):
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name,
                                     gamma_initializer=keras.initializers.RandomNormal(gamma_mean, 0.02))


def _as_map(vector, name):
    return layers.Reshape((1, 1, vector.shape[-1]), name=name)(vector)


# ---------------------------------------------------------------- CGAN
def cgan_generator(z_dim=CGAN_Z, num_classes=NUM_CLASSES, image_shape=IMAGE_SHAPE, name="generator"):
    """The original's network for 28x28x1; any other (H, W, C) (a user's folder) gets `_upsampler`."""
    z = keras.Input((z_dim,), name="z")
    label = keras.Input((num_classes,), name="one_hot")
    if tuple(image_shape) != IMAGE_SHAPE:
        x = layers.Concatenate(name="z_label")([z, label])
        return keras.Model([z, label], _upsampler(x, image_shape, 0.0, "tanh"), name=name)
    x = _as_map(layers.Concatenate(name="z_label")([z, label]), "to_map")
    blocks = ((256, 3, 2), (128, 4, 1), (64, 3, 2))          # 1 -> 3 -> 6 -> 13
    for i, (filters, kernel, stride) in enumerate(blocks, 1):
        x = layers.Conv2DTranspose(filters, kernel, stride, kernel_initializer=_conv_init, name=f"deconv_{i}")(x)
        x = _bn(f"bn_{i}", 0.0)(x)
        x = layers.ReLU(name=f"relu_{i}")(x)
    x = layers.Conv2DTranspose(1, 4, 2, activation="tanh", kernel_initializer=_conv_init, name="deconv_out")(x)
    return keras.Model([z, label], x, name=name)                # 13 -> 28


def _upsampler(x, image_shape, gamma_mean, activation, out_bias=False):
    """The InfoGAN generator's stack for any (H, W, C): dense 1024, dense to a (ceil(H/4), ceil(W/4),
    128) map, two stride-2 transposed convs (64, C), cropped to H x W. At 28x28x1 it is the InfoGAN's
    own network, so a folder's images get the architecture the original used at MNIST's size."""
    h, w, c = (int(v) for v in image_shape)
    h0, w0 = -(-h // 4), -(-w // 4)
    # The original's k1 and k7 transposed convs on a 1x1 map are dense layers; written as such
    # they compute the same function with the same weights, many times faster on CPU.
    x = layers.Dense(1024, use_bias=False, kernel_initializer=_conv_init, name="deconv_1")(x)
    x = layers.ReLU(name="relu_1")(_bn("bn_1", gamma_mean)(x))
    x = layers.Dense(h0 * w0 * 128, use_bias=False, kernel_initializer=_conv_init, name="deconv_2")(x)
    x = layers.Reshape((h0, w0, 128), name="to_map")(x)
    x = layers.ReLU(name="relu_2")(_bn("bn_2", gamma_mean)(x))
    x = layers.Conv2DTranspose(64, 4, 2, padding="same", use_bias=False, kernel_initializer=_conv_init,
                               name="deconv_3")(x)
    x = layers.ReLU(name="relu_3")(_bn("bn_3", gamma_mean)(x))
    x = layers.Conv2DTranspose(c, 4, 2, padding="same", use_bias=out_bias, activation=activation,
                               kernel_initializer=_conv_init, name="deconv_out")(x)
    if (4 * h0, 4 * w0) != (h, w):
        x = layers.Cropping2D(((0, 4 * h0 - h), (0, 4 * w0 - w)), name="crop")(x)
    return x


def cgan_discriminator(num_classes=NUM_CLASSES, image_shape=IMAGE_SHAPE, name="discriminator"):
    """The original's network; on images other than 28x28 its last conv (which sees the whole 5x5
    map at 28) becomes a dense layer over the whole map, for the same reason."""
    image = keras.Input(image_shape, name="image")
    label = keras.Input((num_classes,), name="one_hot")
    planes = layers.UpSampling2D(image_shape[:2], name="label_planes")(_as_map(label, "label_map"))
    x = layers.Concatenate(name="image_labels")([image, planes])
    for i, filters in enumerate((64, 128), 1):                  # 28 -> 13 -> 5
        x = layers.Conv2D(filters, 4, 2, kernel_initializer=_conv_init, name=f"conv_{i}")(x)
        x = _bn(f"bn_{i}", 0.0)(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    if tuple(image_shape[:2]) != IMAGE_SHAPE[:2]:
        x = layers.Flatten(name="flatten")(x)
        return keras.Model([image, label], layers.Dense(1, kernel_initializer=_conv_init, name="logit")(x), name=name)
    x = layers.Conv2D(1, 4, 2, kernel_initializer=_conv_init, name="conv_out")(x)   # 5 -> 1
    return keras.Model([image, label], layers.Flatten(name="logit")(x), name=name)


# ---------------------------------------------------------------- InfoGAN
def infogan_generator(num_categories=INFO_CAT, image_shape=IMAGE_SHAPE, name="generator", out_bias=False):
    """num_categories: the categorical code's size (one per class of a user's folder); at 28x28x1
    the original's network (`_upsampler` builds the same layers for any image shape). out_bias: a
    bias on the last transposed conv (openai/InfoGAN's custom_deconv2d has one)."""
    z = keras.Input((INFO_Z,), name="z")
    code = keras.Input((num_categories,), name="one_hot_code")
    cont = keras.Input((INFO_CONT,), name="continuous_codes")
    x = layers.Concatenate(name="latent")([z, code, cont])
    x = _upsampler(x, image_shape, 1.0, "sigmoid", out_bias)
    x = layers.Rescaling(2.0, offset=-1.0, name="to_tanh_range")(x)   # [0, 1] -> [-1, 1]
    return keras.Model([z, code, cont], x, name=name)


def infogan_discriminator(image_shape=IMAGE_SHAPE, num_categories=INFO_CAT, leak=0.1, name="discriminator",
                          openai=False):
    """image -> (real/fake logit, category logits, means, log-variances), with nested models
    `trunk`, `d_head` and `q_head` so the two optimizers can own their parts; leak: the LeakyReLU
    slope (kalpak92 0.1, openai/InfoGAN 0.01). openai: openai/InfoGAN's details, D sees its images
    on [0, 1] (its MeanBernoulli output) and its convs start truncated-normal (custom_conv2d)."""
    image = keras.Input(image_shape, name="image")
    x = layers.Rescaling(0.5, offset=0.5, name="to_unit_range")(image) if openai else image
    conv_init = keras.initializers.TruncatedNormal(0.0, 0.02) if openai else _conv_init
    # The original's first conv keeps PyTorch's default bias (REFERENCE 3b says bias-free; its code
    # does not): on the suite's [-1, 1] images it is what lets D cancel the -1 background.
    x = layers.Conv2D(64, 4, 2, padding="same", kernel_initializer=conv_init, name="conv_1")(x)
    x = layers.LeakyReLU(leak, name="lrelu_1")(x)
    x = layers.Conv2D(128, 4, 2, padding="same", use_bias=False, kernel_initializer=conv_init, name="conv_2")(x)
    x = layers.LeakyReLU(leak, name="lrelu_2")(_bn("bn_2", 1.0)(x))
    x = layers.Flatten(name="flatten")(x)                      # the original's k7 conv 7 -> 1, as dense
    x = layers.Dense(1024, use_bias=False, kernel_initializer=_conv_init, name="conv_3")(x)
    x = layers.LeakyReLU(leak, name="features")(_bn("bn_3", 1.0)(x))
    trunk = keras.Model(image, x, name="trunk")

    features = keras.Input((1024,), name="features")
    d_head = keras.Model(features, layers.Dense(1, kernel_initializer=_conv_init, name="real_fake")(features),
                         name="d_head")          # the original's k1 conv + sigmoid; the sigmoid is in the loss
    h = layers.Dense(128, use_bias=False, kernel_initializer=_conv_init, name="q_dense")(features)
    h = layers.LeakyReLU(leak, name="q_lrelu")(_bn("q_bn", 1.0)(h))
    q_head = keras.Model(features, [layers.Dense(num_categories, kernel_initializer=_conv_init, name="code_logits")(h),
                                    layers.Dense(INFO_CONT, kernel_initializer=_conv_init, name="mu")(h),
                                    layers.Dense(INFO_CONT, kernel_initializer=_conv_init, name="log_var")(h)],
                         name="q_head")
    f = trunk(image)
    return keras.Model(image, [d_head(f), *q_head(f)], name=name)


# ---------------------------------------------------------------- classifier (convNet.py)
def classifier(dropout=0.8, image_shape=IMAGE_SHAPE, num_classes=NUM_CLASSES, name="convnet"):
    """`dropout` is the probability of dropping a unit (PyTorch's p), 0.8 in the original."""
    kaiming = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    xavier_gain_sqrt2 = keras.initializers.VarianceScaling(2.0, "fan_avg", "untruncated_normal")
    image = keras.Input(image_shape, name="image")
    x = image
    for i, filters in enumerate((6, 12, 24), 1):                # 28 -> 14 -> 7 -> 3: 3*3*24 = 216
        x = layers.Conv2D(filters, 3, padding="same", kernel_initializer=kaiming, name=f"conv_{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
        x = layers.ReLU(name=f"relu_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    for units in (120, 60):
        x = layers.Dense(units, kernel_initializer=xavier_gain_sqrt2, name=f"fc_{units}")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn_fc_{units}")(x)
        x = layers.ReLU(name=f"relu_fc_{units}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{units}")(x)
    logits = layers.Dense(num_classes, kernel_initializer=xavier_gain_sqrt2, name="logits")(x)
    return keras.Model(image, logits, name=name)
