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
    if max(checks.values()) > TOLERANCE:      # the exact z', before any clipping
        raise TrainingError(f"z' does not keep the target score / negate the protected score: {checks}")
    if config.get("clip_latents", False):
        # the generator never saw latents outside its prior's box; what clipping costs in the two
        # scores is recorded beside the share clipped
        z_flip, clip = latent.clip_to_prior(z_flip, generator_prior(exp_dir))
        after = latent.check_complement(z[index], z_flip, w_a, b_a, w_g, b_g)
        clip.update({f"{k}_after_clipping": v for k, v in after.items()})
    else:
        clip = {"clipped": False, "reason": "--no-clip-latents"}
    clip.update(latent.pair_agreement(z[index], z_flip, w_a, b_a, w_g, b_g))
    report["clipping"] = clip
    experiment.save_npz(path, index=index, z_flip=z_flip.astype(np.float32))
    cli.write_json_atomic(exp_dir / "fake" / "hyperplanes.json", report)
    print(f"== hyperplane: SVM accuracy (fit / held-out) {config['attribute']} "
          f"{report['target']['svm_accuracy_fit']:.3f} / {report['target']['svm_accuracy_heldout']:.3f}, "
          f"{config['protected_attribute']} {report['protected']['svm_accuracy_fit']:.3f} / "
          f"{report['protected']['svm_accuracy_heldout']:.3f}; w_g.w_a = {report['cos_wg_wa']:.3f}; "
          f"{len(index)} complements, max |target change| {checks['max_target_score_change']:.1e}, "
          f"max |protected sum| {checks['max_protected_sum']:.1e}")
    if clip["clipped"]:
        print(f"   z' clipped to the prior's box [-1, 1]: {clip['fraction_latents_clipped']:.1%} of the latents "
              f"({clip['fraction_coordinates_clipped']:.1%} of coordinates); afterwards the target side is kept "
              f"for {clip['target_side_kept']:.1%} and the protected side flipped for {clip['protected_side_flipped']:.1%}")
    return path


def generator_prior(exp_dir):
    """The prior G(z) was sampled from, as recorded by `generate --generate orig` (uniform if unknown:
    BEGAN's, the suite's generator)."""
    record = exp_dir / "fake" / "generator.json"
    return cli.read_json(record).get("prior", "uniform") if record.exists() else "uniform"


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    config = experiment.resolve(args)
    exp_dir = experiment.open_experiment(args, config)
    return hyperplanes(exp_dir, config, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
