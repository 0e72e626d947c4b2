"""Fit the latent hyperplanes and compute the complementary latents z' (step 4, the original's linear.py).

    python -m debias.hyperplane

On z[:n_svm] with their hallucinated labels: LinearSVC for the target (w_a, b_a) and the protected
attribute (w_g, b_g), normals rescaled to unit length. For z[pair_start:]:
z' = z - [2 (w_g.z + b_g) / (1 - (w_g.w_a)^2)] (w_g - (w_g.w_a) w_a), checked numerically to keep the
target score and negate the protected one, then (default; --no-clip-latents to keep them) clipped to
the generator's training range, the uniform prior's box [-1, 1]. Writes fake/latents_flip.npz (index,
z_flip) and fake/hyperplanes.json (normals, SVM accuracies on the fitted and the held-out latents,
checks, and under "clipping" the share of latents clipped and the checks after clipping).
"""

from common import cli
from debias import experiment, steps


def parser():
    return experiment.parser("debias.hyperplane", __doc__.split("\n")[0], generator=True)


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    return steps.hyperplanes(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
