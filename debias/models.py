"""The attribute classifier: a ResNet trunk with the paper's head

    global-average-pooled features -> Dense(2048) ReLU -> Dropout(0.5) -> Dense(1) (a logit)

ResNet-50 (ImageNet weights when they can be had, random init otherwise) as the paper, or a small
ResNet (basic residual blocks, BatchNorm) for CPU profiles. Inputs are images in [-1, 1] of the data's
size; a Resizing layer brings them to the trunk's input size (224 for the paper's ResNet-50), and a
random horizontal flip is applied in training (the paper's augmentation without the random crop).
"""
import keras

BACKBONES = ("resnet50", "small")


def _block(x, filters, strides, name):
    """A basic residual block (two 3x3 conv-BN, identity or 1x1 projection shortcut)."""
    shortcut = x
    y = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = keras.layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([y, shortcut]))


def small_resnet(x, widths=(32, 64, 128)):
    """Stride-2 stem, one residual block per width (stride 2 from the second), global average pool."""
    x = keras.layers.Conv2D(widths[0], 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for i, width in enumerate(widths):
        x = _block(x, width, 1 if i == 0 else 2, name=f"stage{i + 1}")
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)


def resnet50(x, input_size, imagenet=True):
    """keras.applications.ResNet50 without its top; returns (features, whether ImageNet weights loaded).
    ImageNet weights are downloaded by Keras; offline that fails and the trunk starts from scratch."""
    from keras.applications import resnet50 as r50
    loaded = False
    trunk = None
    if imagenet:
        try:
            trunk = r50.ResNet50(include_top=False, weights="imagenet", pooling="avg",
                                 input_shape=(input_size, input_size, 3))
            loaded = True
        except Exception:   # no network / no cached file: any failure means "no weights"
            trunk = None
    if trunk is None:
        trunk = r50.ResNet50(include_top=False, weights=None, pooling="avg",
                             input_shape=(input_size, input_size, 3))
    if loaded:   # ImageNet weights expect caffe-style BGR, mean-subtracted 0..255 input
        x = keras.layers.Rescaling(127.5, offset=127.5, name="to_255")(x)
        x = keras.layers.Lambda(r50.preprocess_input, name="imagenet_preprocess")(x)
    return trunk(x), loaded


def imagenet_available(input_size=224):
    """Whether Keras can load ResNet-50's ImageNet weights (downloaded once, then cached); False offline."""
    try:
        from keras.applications import resnet50 as r50
        r50.ResNet50(include_top=False, weights="imagenet", pooling="avg", input_shape=(input_size, input_size, 3))
        return True
    except Exception:   # no network and no cached file
        return False


def classifier(image_size=64, backbone="small", input_size=None, widths=(32, 64, 128), head_units=2048,
               imagenet=True, seed=0):
    """Returns (model, imagenet_weights_loaded). The model maps [-1, 1] images to one logit."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, not {backbone!r}")
    input_size = input_size or image_size
    image = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.RandomFlip("horizontal", seed=seed, name="flip")(image)
    if input_size != image_size:
        x = keras.layers.Resizing(input_size, input_size, name="resize")(x)
    loaded = False
    if backbone == "resnet50":
        features, loaded = resnet50(x, input_size, imagenet)
    else:
        features = small_resnet(x, widths)
    h = keras.layers.Dense(head_units, activation="relu", name="fc1")(features)
    h = keras.layers.Dropout(0.5, seed=seed, name="dropout")(h)
    logit = keras.layers.Dense(1, name="logit")(h)
    return keras.Model(image, logit, name=f"attribute_classifier_{backbone}"), loaded
