"""How varied are a CGAN's digits within each class, next to real MNIST digits of that class?

Features: the 128-unit hidden layer of the suite's reference MNIST classifier. Per digit, for n
generated and n real training images: the spread ratio sqrt(trace cov_gen / trace cov_real) (1 =
as varied as real digits, below 1 = less varied), the class-conditional Frechet distance and the
share of generated digits the classifier reads as their label; also real vs real (two disjoint real samples) as the floor the Frechet distance would reach.

    python scripts/synthetic_variety.py results/cgan_infogan_e70/mnist_quick --data-dir ../shared/data [--per-class 500]
"""

# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import cli, datasets
from common.errors import UserError
from common.metrics import classifier, fid

import keras
import numpy as np

from cgan_infogan import synthetic


@cli.main
def main(argv=None):
    p = cli.ArgumentParser(prog="scripts/synthetic_variety.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--per-class", type=cli.bounded(int, 2), default=500)
    p.add_argument("--seed", type=cli.seed, default=0)
    args = p.parse_args(argv)

    synthetic.model_dir(args.run_dir, "cgan")   # fails in one line before any work if there is no CGAN
    root = datasets.data_dir(args.data_dir)
    train = datasets.load("mnist", "train", root)
    fewest = np.bincount(train.labels, minlength=10).min()
    if 2 * args.per_class > fewest:
        raise UserError(f"--per-class {args.per_class} needs {2 * args.per_class} real images of every digit; "
                        f"the rarest digit has {fewest}")
    reference = classifier.reference_classifier("mnist", root, seed=0)
    hidden = next(l for l in reversed(reference.layers) if isinstance(l, keras.layers.Dense) and l.units == 128)
    features = keras.Model(reference.inputs, hidden.output)
    embed = lambda images: features.predict(images, batch_size=500, verbose=0).astype(np.float64)  # noqa: E731

    keras.utils.set_random_seed(args.seed)
    model, epoch, _ = synthetic.load_gan(args.run_dir, "cgan")
    synthetic.reseed(model, args.seed)
    fake, fake_labels = synthetic.cgan_set(model, 10 * args.per_class)
    rng = np.random.default_rng(args.seed)
    print(f"CGAN epoch {epoch}, {args.per_class} images per class; features: the reference classifier's hidden layer")
    predicted = classifier.predict_classes(reference, fake)
    print("digit  spread gen/real  FD gen-real  FD real-real  label accuracy")
    rows = []
    for d in range(10):
        real_idx = rng.permutation(np.flatnonzero(train.labels == d))[:2 * args.per_class]
        real_a, real_b = (embed(train.images[i]) for i in np.split(real_idx, 2))
        gen, real, other = (fid.statistics(f) for f in (embed(fake[fake_labels == d]), real_a, real_b))
        spread = np.sqrt(np.trace(gen[1]) / np.trace(real[1]))
        fd_gen, fd_real = fid.frechet_distance(*gen, *real), fid.frechet_distance(*other, *real)
        accuracy = np.mean(predicted[fake_labels == d] == d)     # the reference CNN agrees with the label
        rows.append((spread, fd_gen, fd_real, accuracy))
        print(f"{d:5d}  {spread:15.3f}  {fd_gen:11.2f}  {fd_real:12.2f}  {accuracy:14.3f}")
    mean = np.mean(rows, axis=0)
    print(f" mean  {mean[0]:15.3f}  {mean[1]:11.2f}  {mean[2]:12.2f}  {mean[3]:14.3f}")


if __name__ == "__main__":
    main()
