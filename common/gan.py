"""The base every GAN of the suite derives from (keras-io style): a `keras.Model` whose `train_step`
is the paper's algorithm, compiled with one optimizer per network, with `keras.metrics.Mean`
trackers named as the logged keys and a `SeedGenerator` for all of its randomness."""
import keras
import tensorflow as tf


class GAN(keras.Model):
    """Subclasses set `loss_names`, create their networks as attributes in `__init__` after calling
    `super().__init__`, and implement `train_step`.

    Variables: `generator_variables` and `discriminator_variables` default to the trainable variables
    of `self.generator` and `self.discriminator`; override them where a paper groups them otherwise.
    """
    loss_names = ()

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    @property
    def metrics(self):
        return self.trackers  # reset by fit at the start of every epoch

    @property
    def generator_variables(self):
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    def compile(self, d_optimizer, g_optimizer, **kwargs):
        super().compile(optimizer=None, **kwargs)
        policy = keras.mixed_precision.global_policy()
        if policy.compute_dtype != "float32":       # mixed precision: losses are computed in float32
            self.generator = float32_outputs(self.generator)
            self.discriminator = float32_outputs(self.discriminator)
        if policy.compute_dtype == "float16":       # float16 gradients underflow without loss scaling
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
            g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Built now, so that their state is restored from a checkpoint instead of skipped.
        d_optimizer.build(self.discriminator_variables)
        g_optimizer.build(self.generator_variables)
        self.built = True

    @staticmethod
    def mean(values):
        """Mean over the *global* batch of per-example values: hand-written losses must not grow
        with the number of replicas (gradients are summed across replicas)."""
        values = tf.convert_to_tensor(values)
        if values.shape.rank > 1:
            values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
        return tf.nn.compute_average_loss(values)

    def step(self, optimizer, tape, loss, variables):
        """One optimizer update of `variables` from the loss recorded on `tape`. Under loss scaling
        the gradient is taken of the scaled loss; `apply` unscales it and skips non-finite steps."""
        scale = None
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            scale = optimizer.scale_loss(tf.ones_like(loss))
        optimizer.apply(tape.gradient(loss, variables, output_gradients=scale), variables)

    def update(self, **values):
        """Feed the trackers this replica's losses (as returned by `mean`) and return the logs."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for tracker in self.trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name] * replicas)
        return {t.name: t.result() for t in self.trackers}

    def noise(self, shape, kind="normal"):
        """Latent noise from the model's SeedGenerator (saved with checkpoints by common.training)."""
        if kind == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)
        return keras.random.normal(shape, seed=self.seed_generator)


def float32_outputs(network):
    """`network` with its outputs cast to float32 (under a mixed policy layers compute in bfloat16
    or float16); the wrapped network shares every variable with the original."""
    outputs = keras.tree.map_structure(       # on the network's own graph: same layers, get_layer works
        lambda t: keras.layers.Activation("linear", dtype="float32")(t), network.output)
    return keras.Model(network.input, outputs, name=network.name)
