"""The base every GAN of the suite derives from (keras-io style): a `keras.Model` whose `train_step`
is the paper's algorithm, compiled with one optimizer per network, with `keras.metrics.Mean`
trackers named as the logged keys and a `SeedGenerator` for all of its randomness."""
import keras
import tensorflow as tf


def multi_worker(strategy):
    """Whether `strategy` spans several worker processes (MultiWorkerMirroredStrategy + TF_CONFIG)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return False
    spec = resolver.cluster_spec()
    return sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs) > 1


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A SeedGenerator whose draws differ between replicas. Its state is a mirrored variable that
    every replica advances alike, so without the replica id added to the seed all replicas would
    draw the same numbers and a global batch would repeat its latents once per replica. Replica 0
    (and training without a strategy) draws what a plain SeedGenerator draws."""

    def next(self, ordered=True):
        seed = super().next(ordered)
        context = tf.distribute.get_replica_context()      # None in cross-replica context
        if context is None:
            return seed
        return seed + tf.cast(tf.stack([context.replica_id_in_sync_group, 0]), seed.dtype)


class GAN(keras.Model):
    """Subclasses set `loss_names`, create their networks as attributes in `__init__` after calling
    `super().__init__`, and implement `train_step`.

    Variables: `generator_variables` and `discriminator_variables` default to the trainable variables
    of `self.generator` and `self.discriminator`; override them where a paper groups them otherwise.
    """
    loss_names = ()

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = ReplicaSeedGenerator(seed, name="seed_generator")
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

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # fit() first reduces a batch across replicas to build the model symbolically; under
        # MultiWorkerMirroredStrategy that reduce fails on a tuple batch such as (images, labels)
        # (Keras 3.15). compile() has built every variable already: nothing is left to build.
        if self.built and all(layer.built for layer in self._flatten_layers()):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def make_train_function(self, force=False):
        if (self.train_function is not None and not force) or not multi_worker(self.distribute_strategy):
            return super().make_train_function(force)

        # Across workers Keras 3.15 averages the logs with strategy.reduce("MEAN", v, axis=0), which
        # fails on scalars: give each a length-1 axis for that reduce to remove.
        def step(data):
            return {k: tf.reshape(v, [1]) if v.shape.rank == 0 else v for k, v in self.train_step(data).items()}
        self.train_function = self._make_function(step)
        return self.train_function

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
