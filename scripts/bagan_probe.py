"""Watch BAGAN's adversarial phase step by step from a trained autoencoder (issue #20: the minority
class collapses in the first adversarial epoch).

    python scripts/bagan_probe.py RUN_DIR --steps 340 --every 20 --csv /tmp/probe.csv

RUN_DIR is a bagan/train.py result directory whose autoencoder phase is done ({c}_encoder/decoder
weights, {c}_means/covariances, {c}_kept_indices). The adversarial phase starts as bagan/train.py
starts it (G = decoder, D's trunk = encoder's, the saved class Gaussians, Adam(lr, 0.5)) and runs
BAGAN.train_step on the same data stream. Every `--every` steps, from step 0, it records:
- the target class's generated images (fixed latents): mean pairwise SSIM, reference-CNN accuracy;
  the same for a majority control class;
- D (inference mode) on real target-class images, on the generated ones and on the control class:
  mean probability of the class, of "fake", and the fraction of generated images with p_c < 1e-7;
- the gradient of G's loss w.r.t. each generated image: mean norm, and the mean pairwise cosine
  between images of the class (1 = every image pushed the same way);
- the class make-up of the batches since the last record (real, D's fakes, G's batch);
- the share of generated and real pixels within 0.05 of tanh's ends (-1, 1) (saturation).
Flags below switch single factors of the step, to test a suspected cause one at a time.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--steps", type=int, default=340)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--csv", required=True, help="where the records go (one row per record)")
    p.add_argument("--loss", choices=("clipped", "logits"), default=None, help="default: the run's")
    p.add_argument("--control-class", type=int, default=5)
    p.add_argument("--n", type=int, default=200, help="generated images per measured class")
    p.add_argument("--g-lr-scale", type=float, default=1.0, help="G's learning rate x this")
    p.add_argument("--d-lr-scale", type=float, default=1.0, help="D's learning rate x this")
    p.add_argument("--real-class-mode", choices=("natural", "uniform"), default=None,
                   help="uniform = D's real batches drawn class-balanced (oversampled minority); "
                        "default: the run's --real-sampling")
    p.add_argument("--dmode", choices=("run", "natural"), default="run",
                   help="natural = D's fakes take the real classes' frequencies (default: the run's -d)")
    p.add_argument("--ms-lambda", type=float, default=None, help="mode-seeking weight (default: the run's)")
    p.add_argument("--fakes", type=int, default=None,
                   help="generated images per D batch (default: the original's ceil(B/K))")
    p.add_argument("--d-warmup", type=int, default=0,
                   help="steps at the start in which only D learns (G's learning rate 0)")
    p.add_argument("--seed", type=int, default=None, help="default: the run's")
    p.add_argument("--data-dir", default=None)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    from common import cli, datasets, pipeline     # first: TensorFlow then starts quietly
    from common.metrics import classifier as clf
    from common.metrics import ssim

    import keras
    import tensorflow as tf

    from bagan import gan
    from bagan.run import load_data, training_subset

    run = Path(args.run_dir)
    config = cli.read_config(run)         # in current names (common.cli.RENAMED)
    seed = config["seed"] if args.seed is None else args.seed
    tag = "all" if config.get("keep_imbalance") else str(config["target_class"])   # -D GTSRB --keep-imbalance: one BAGAN
    target, control = int(config["target_class"]), args.control_class
    k, shape = config["num_classes"], tuple(config["image_shape"])
    data_dir = datasets.data_dir(args.data_dir or config.get("data_dir"))
    train = training_subset(load_data(config, data_dir)[0], config)
    kept = np.load(run / f"{tag}_kept_indices.npy")
    x, y = train.images[kept], train.labels[kept]
    reference = clf.reference_classifier("mnist" if str(config["dataset"]).lower() == "mnist" else config["dataset"],
                                         data_dir, seed=0, verbose=0)
    keras.utils.set_random_seed(seed)

    # Phase 2 exactly as bagan/train.py: decoder -> G, encoder trunk -> D, saved Gaussians.
    from bagan import models
    sampler = gan.LatentSampler.load(run, tag)
    counts = tf.Variable(tf.zeros((2, k), tf.int64), trainable=False)

    class Probe(gan.BAGAN):
        def _fake_count(self, real):
            m, b = super()._fake_count(real)
            return (m if args.fakes is None else args.fakes), b

        def sample_labels(self, n, logits):
            labels = super().sample_labels(n, logits)
            row = 0 if logits is self.d_logits else 1
            counts.scatter_nd_add([[row, c] for c in range(k)],
                                  tf.math.bincount(labels, minlength=k, maxlength=k, dtype=tf.int64))
            return labels

    d_probs = (np.bincount(y, minlength=k) / len(y) if args.dmode == "natural"
               else pipeline.class_probabilities(y, config["dmode"], k))
    g_probs = pipeline.class_probabilities(y, config["gmode"], k)
    model = Probe(shape, k, d_probs=d_probs, g_probs=g_probs, width=config["width"], seed=seed,
                  loss=args.loss or config.get("loss", "logits"),
                  ms_lambda=config.get("ms_lambda", 0.0) if args.ms_lambda is None else args.ms_lambda,
                  trunk=config.get("trunk", "bagan"))
    encoder = models.build_encoder(shape, width=config["width"], trunk=config.get("trunk", "bagan"))
    encoder.load_weights(run / f"{tag}_encoder.weights.h5")
    model.generator.load_weights(run / f"{tag}_decoder.weights.h5")
    models.copy_trunk(encoder, model.discriminator)
    model.set_latent(sampler)
    lr = config["lr"]
    model.compile(d_optimizer=keras.optimizers.Adam(lr * args.d_lr_scale, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(lr * args.g_lr_scale, beta_1=0.5))
    step = tf.function(model.train_step)
    mode = args.real_class_mode or ("uniform" if config.get("real_sampling") == "balanced" else "natural")
    ds, _ = pipeline.make_dataset(x, y, config["batch_size"], seed,
                                  class_mode=None if mode == "natural" else "uniform")
    stream = iter(ds)

    rng = np.random.default_rng(1234)
    z = {c: sampler.sample(np.full(args.n, c), rng).astype("float32") for c in (target, control)}
    real = {c: pipeline.scale(x[y == c][:500]).numpy() for c in (target, control)}

    @tf.function
    def image_grads(images, labels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_sum(model.cross_entropy(labels, model.discriminator(images, training=False)))
        return tape.gradient(loss, images)

    def record(s, real_counts):
        row = {"step": s}
        for c, name in ((target, "t"), (control, "ctl")):
            fake = model.generator(z[c], training=False).numpy()
            u8 = pipeline.to_uint8(fake)
            row[f"{name}_ssim_pairs"] = ssim.pairwise_ssim(u8, 200, seed=0)
            row[f"{name}_ref_acc"] = clf.generated_accuracy(reference, u8, np.full(len(u8), c))
            pf = model.discriminator.predict(fake, verbose=0, batch_size=256)
            pr = model.discriminator.predict(real[c], verbose=0, batch_size=256)
            row[f"{name}_D_pc_real"] = float(pr[:, c].mean())
            row[f"{name}_D_pfake_real"] = float(pr[:, k].mean())
            row[f"{name}_D_pc_gen"] = float(pf[:, c].mean())
            row[f"{name}_D_pc_gen_median"] = float(np.median(pf[:, c]))
            row[f"{name}_D_pfake_gen"] = float(pf[:, k].mean())
            row[f"{name}_gen_below_1e-7"] = float(np.mean(pf[:, c] < 1e-7))
            g = image_grads(tf.constant(fake), tf.fill([len(fake)], c)).numpy().reshape(len(fake), -1)
            norms = np.linalg.norm(g, axis=1)
            u = g / np.maximum(norms[:, None], 1e-30)
            n = len(u)
            row[f"{name}_grad_norm"] = float(norms.mean())
            row[f"{name}_grad_cos"] = float((np.sum(u.sum(0) ** 2) - np.sum(u * u)) / (n * (n - 1)))
            row[f"{name}_pixel_std"] = float(fake.std(0).mean())   # spread over z, per pixel
            row[f"{name}_saturated"] = float(np.mean(np.abs(fake) > 0.95))      # pixels at tanh's ends
            row[f"{name}_saturated_real"] = float(np.mean(np.abs(real[c]) > 0.95))
        made = counts.numpy()
        row["real_target_per_batch"] = real_counts[0] / max(real_counts[1], 1)
        row["dfake_target_frac"] = float(made[0, target] / max(made[0].sum(), 1))
        row["g_target_frac"] = float(made[1, target] / max(made[1].sum(), 1))
        row["dfake_per_batch"] = float(made[0].sum() / max(real_counts[1], 1))
        row["g_per_batch"] = float(made[1].sum() / max(real_counts[1], 1))
        counts.assign(tf.zeros_like(counts))
        return row

    rows, real_counts, t0 = [], [0, 0], time.time()
    rows.append(record(0, real_counts))
    print(json.dumps(rows[-1]), flush=True)
    g_lr = float(model.g_optimizer.learning_rate)
    for s in range(1, args.steps + 1):
        if args.d_warmup and s in (1, args.d_warmup + 1):
            model.g_optimizer.learning_rate.assign(0.0 if s == 1 else g_lr)
        images, labels = next(stream)
        real_counts[0] += int(np.sum(labels.numpy() == target))
        real_counts[1] += 1
        logs = step((images, tf.cast(labels, tf.int32)))
        if s % args.every == 0 or s == args.steps:
            row = record(s, real_counts)
            row.update({key: float(v) for key, v in logs.items()}, seconds=round(time.time() - t0, 1))
            rows.append(row)
            real_counts = [0, 0]
            print(json.dumps(row), flush=True)
            import pandas as pd
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    return rows


if __name__ == "__main__":
    main()
