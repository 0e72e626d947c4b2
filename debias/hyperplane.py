"""Fit the latent hyperplanes and compute the complementary latents z' (step 4, the original's linear.py).

    python -m debias.hyperplane

On z[:n_svm] with their hallucinated labels: LinearSVC for the target (w_a, b_a) and the protected
attribute (w_g, b_g), normals rescaled to unit length. For z[pair_start:]:
z' = z - [2 (w_g.z + b_g) / (1 - (w_g.w_a)^2)] (w_g - (w_g.w_a) w_a), checked numerically to keep the
target score and negate the protected one. Writes fake/latents_flip.npz (index, z_flip) and
fake/hyperplanes.json (normals, SVM accuracies on the fitted and the held-out latents, checks).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from common import cli  # noqa: E402
from common.errors import TrainingError  # noqa: E402
from debias import experiment, latent  # noqa: E402

TOLERANCE = 1e-6


def parser():
    return experiment.parser("debias.hyperplane", __doc__.split("\n")[0], generator=True)


def hyperplanes(exp_dir, config, overwrite=False):
    path = exp_dir / "fake" / "latents_flip.npz"
    if experiment.done(path, overwrite, "hyperplane"):
        return path
    z = experiment.load_npz(exp_dir / "fake" / "orig.npz", "generate --generate orig")["z"].astype(np.float64)
    labels = experiment.load_npz(exp_dir / "fake" / "labels.npz", "hallucinate")
    fit, held = slice(0, config["n_svm"]), slice(config["pair_start"], None)
    report = {"n_svm": config["n_svm"], "pair_start": config["pair_start"], "n_pairs": len(z[held])}
    planes = {}
    for key, name in (("target", config["attribute"]), ("protected", config["protected_attribute"])):
        w, b = latent.fit_hyperplane(z[fit], labels[key][fit], name, seed=config["seed"])
        planes[key] = (w, b)
        report[key] = {"attribute": name, "w": w.tolist(), "b": b,
                       "svm_accuracy_fit": latent.accuracy(z[fit], labels[key][fit], w, b),
                       "svm_accuracy_heldout": latent.accuracy(z[held], labels[key][held], w, b),
                       "positive_rate": float(labels[key].mean())}
    (w_a, b_a), (w_g, b_g) = planes["target"], planes["protected"]
    index = np.arange(config["pair_start"], len(z))
    z_flip = latent.complement(z[index], w_a, w_g, b_g)
    checks = latent.check_complement(z[index], z_flip, w_a, b_a, w_g, b_g)
    report.update(checks, cos_wg_wa=float(w_g @ w_a),
                  fraction_outside_unit_box=float(np.mean(np.any(np.abs(z_flip) > 1, axis=1))),
                  mean_step_norm=float(np.mean(np.linalg.norm(z_flip - z[index], axis=1))))
    if max(checks.values()) > TOLERANCE:
        raise TrainingError(f"z' does not keep the target score / negate the protected score: {checks}")
    experiment.save_npz(path, index=index, z_flip=z_flip.astype(np.float32))
    cli.write_json_atomic(exp_dir / "fake" / "hyperplanes.json", report)
    print(f"== hyperplane: SVM accuracy (fit / held-out) {config['attribute']} "
          f"{report['target']['svm_accuracy_fit']:.3f} / {report['target']['svm_accuracy_heldout']:.3f}, "
          f"{config['protected_attribute']} {report['protected']['svm_accuracy_fit']:.3f} / "
          f"{report['protected']['svm_accuracy_heldout']:.3f}; w_g.w_a = {report['cos_wg_wa']:.3f}; "
          f"{len(index)} complements, max |target change| {checks['max_target_score_change']:.1e}, "
          f"max |protected sum| {checks['max_protected_sum']:.1e}")
    return path


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    return hyperplanes(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
