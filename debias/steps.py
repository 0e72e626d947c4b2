"""The de-biasing steps as functions of (experiment directory, config): each reads the files of the
steps before it, writes its own, and skips work already on disk (see debias/experiment.py for the
layout). The entry points train, generate, hallucinate, hyperplane and pipeline parse flags and call
these; `run` chains them all (debias.pipeline, and debias.train without --model-train)."""
import time

import numpy as np

from common import cli, datasets
from common.errors import TrainingError, UserError
from debias import experiment
from debias import generator as gen

# -- steps 1 and 5: the attribute classifiers (debias.train) --

CLASSIFIER_KEYS = ("backbone", "widths", "head_units", "image_size", "input_size", "epochs", "batch_size",
                   "lr", "seed", "train_limit", "imagenet", "jit_compile", "eager", "strategy", "profile",
                   "attribute", "protected_attribute")
DEBIAS_KEYS = ("n_samples", "n_svm", "pair_start", "label_threshold", "label_fallback", "clip_latents")


def classifier_config(config, model_train):
    keys = CLASSIFIER_KEYS + (DEBIAS_KEYS if model_train == "gan-debiased" else ())
    run = {k: config.get(k) for k in keys}
    run["model_train"] = model_train
    run["predicts"] = config["protected_attribute"] if model_train == "protected" else config["attribute"]
    return run


def imagenet_weights(config):
    """Whether ResNet-50 starts from ImageNet weights (tried once; offline it cannot)."""
    if config["backbone"] != "resnet50" or not config.get("imagenet", True):
        return False
    from debias import models
    loaded = models.imagenet_available(config.get("input_size") or config["image_size"])
    if not loaded:
        print("ImageNet weights for ResNet-50 could not be loaded (offline?): training from scratch "
              "(recorded as imagenet_weights: false in config.json)")
    return loaded


def debiased_training_set(exp_dir, config, real_images, real_target, real_protected):
    """Real + G(z) + G(z') for the paired latents: G(z) labelled (t(z), g(z)), G(z') (t(z), 1 - g(z))."""
    fake = exp_dir / "fake"
    labels = experiment.load_npz(fake / "labels.npz", "hallucinate")
    pairs = experiment.load_npz(fake / "latents_flip.npz", "hyperplane")
    orig = experiment.load_npz(fake / "orig.npz", "generate --generate orig")
    flip = experiment.load_npz(fake / "flip.npz", "generate --generate flip")
    index = pairs["index"]
    if len(flip["images"]) != len(index):
        raise UserError(f"{fake / 'flip.npz'} holds {len(flip['images'])} images for {len(index)} latents; "
                        "run generate --generate flip --overwrite")
    size = config["image_size"]
    images = np.concatenate([real_images, experiment.resize(orig["images"][index], size),
                             experiment.resize(flip["images"], size)])
    t = labels["target"][index]
    g = labels["protected"][index]
    target = np.concatenate([real_target, t, t])
    protected = np.concatenate([real_protected, g, 1 - g])
    return images, target, protected


def train_model(model_train, config, exp_dir, data_dir, overwrite=False, verbose="auto"):
    """Train one classifier of the experiment; returns its best.json summary."""
    from debias import classifier
    run = classifier_config(config, model_train)
    run["imagenet_weights"] = imagenet_weights(config)
    run_dir = exp_dir / model_train
    images, target, protected = experiment.real_data(config, data_dir, "train")
    val_images, val_target, val_protected = experiment.real_data(config, data_dir, "val")
    if model_train == "protected":
        target, val_target, protected, val_protected = protected, val_protected, target, val_target
    if model_train == "gan-debiased":
        images, target, protected = debiased_training_set(exp_dir, config, images, target, protected)
    for name, labels in (("training", target), ("validation", val_target)):
        if labels.min() == labels.max():
            raise UserError(f"every {name} image has {run['predicts']} = {labels[0]}: a classifier needs both "
                            "classes; choose another attribute or more images")
    cli.prepare_run_dir(run_dir, dict(run, overwrite=overwrite), "debias")
    print(f"== {model_train}: {run['predicts']} classifier ({config['backbone']}, "
          f"{'ImageNet weights' if run['imagenet_weights'] else 'from scratch'}) on {len(images)} images")
    summary = classifier.fit(run_dir, run, (images, target), (val_images, val_target, val_protected),
                             weighted_val=model_train == "gan-debiased", verbose=verbose)
    print(f"== {model_train}: best validation AP {100 * summary['val_ap']:.2f} at epoch {summary['best_epoch']}")
    return summary


# -- steps 2 and 4b: G(z) and G(z') (debias.generate) --

RECORD = "generator.json"


def generator_source(args, config, exp_dir):
    """--generator, else the one recorded by an earlier `orig`, else this profile's BEGAN run."""
    if args.generator:
        return gen.check_source(args.generator), config.get("latent_prior")
    record = exp_dir / "fake" / RECORD
    if record.exists():
        info = cli.read_json(record)
        return gen.check_source(info["path"]), info["prior"]
    return experiment.find_generator(args.out, config["profile"]), config.get("latent_prior")


def orig(exp_dir, config, source, prior, overwrite=False):
    from common import plots
    path = exp_dir / "fake" / "orig.npz"
    if experiment.done(path, overwrite, "generate --generate orig"):
        return path
    g = gen.load(source, prior)
    z = g.sample(config["n_samples"], config["seed"])
    print(f"== generate orig: {len(z)} latents from {g.describe()['source']} ({g.prior} prior, "
          f"dim {g.latent_dim}) -> {g.image_shape[0]}x{g.image_shape[1]} images")
    images = g.render(z)
    experiment.save_npz(path, z=z, images=images)
    cli.write_json_atomic(exp_dir / "fake" / RECORD, dict(g.describe(), path=str(source), n=len(z)))
    n = min(64, len(images)) // 8 * 8
    if n:
        plots.image_grid(images[:n].reshape(n // 8, 8, *images.shape[1:]),
                         exp_dir / "fake" / "orig_samples.png", title="G(z)")
    return path


def flip(exp_dir, config, source, prior, overwrite=False):
    from common import plots
    path = exp_dir / "fake" / "flip.npz"
    if experiment.done(path, overwrite, "generate --generate flip"):
        return path
    pairs = experiment.load_npz(exp_dir / "fake" / "latents_flip.npz", "hyperplane")
    originals = experiment.load_npz(exp_dir / "fake" / "orig.npz", "generate --generate orig")
    g = gen.load(source, prior)
    if g.latent_dim != pairs["z_flip"].shape[1]:
        raise UserError(f"the generator's latent has {g.latent_dim} dimensions, the complements "
                        f"{pairs['z_flip'].shape[1]}: use the generator of `generate --generate orig`")
    print(f"== generate flip: {len(pairs['z_flip'])} complementary images G(z')")
    images = g.render(pairs["z_flip"])
    experiment.save_npz(path, images=images)
    k = min(8, len(images))
    grid = np.stack([originals["images"][pairs["index"][:k]], images[:k]], axis=1)   # (k, 2, H, W, C)
    plots.image_grid(grid, exp_dir / "fake" / "pairs.png", col_labels=["G(z)", "G(z')"],
                     title=f"{config['attribute']} kept, {config['protected_attribute']} flipped")
    return path


# -- step 3: hallucinated labels of G(z), and the check of G(z') (debias.hallucinate) --

def threshold(run_dir, scores, how):
    """f1 / calibrated: from the classifier's best.json (validation); median: of these scores (when
    the generated images lie outside what the classifier saw, e.g. a GAN trained briefly, a
    validation threshold can put all of them on one side)."""
    if how == "median":
        return float(np.median(scores))
    best = cli.read_json(run_dir / "best.json")
    return float(best["f1_thresh" if how == "f1" else "cal_thresh"])


def one_class(labels, n_svm):
    """True when the labels of the SVMs' latents z[:n_svm] (or of all of them) are all one class."""
    labels = np.asarray(labels)
    return len(np.unique(labels[:n_svm])) < 2 or len(np.unique(labels)) < 2


def binarise(scores, rule, run_dir, fallback, n_svm):
    """(labels, record): the scores split at the `rule` threshold; when that leaves the SVMs'
    latents in one class and fallback is "median", split at the median instead and say so."""
    thr = threshold(run_dir, scores, rule)
    labels = (scores > thr).astype(np.int64)
    record = {"rule": rule, "threshold": thr, "positive_rate": float(labels.mean()), "fallback": None}
    if one_class(labels, n_svm) and rule != "median" and fallback == "median":
        note = (f"the {rule} threshold {thr:.3f} put {labels.mean():.1%} of the generated images in the "
                f"positive class (one class): fell back to the scores' median")
        thr = threshold(run_dir, scores, "median")
        labels = (scores > thr).astype(np.int64)
        record.update(rule="median", threshold=thr, positive_rate=float(labels.mean()),
                      fallback=note, requested_rule=rule, requested_threshold=record["threshold"],
                      requested_positive_rate=record["positive_rate"])
    return labels, record


def hallucinate(exp_dir, config, overwrite=False):
    from debias import classifier
    path = exp_dir / "fake" / "labels.npz"
    if experiment.done(path, overwrite, "hallucinate"):
        return path
    orig = experiment.load_npz(exp_dir / "fake" / "orig.npz", "generate --generate orig")
    images = experiment.resize(orig["images"], config["image_size"])
    out, report = {}, {}
    for key, model_train in (("target", "baseline"), ("protected", "protected")):
        run_dir = exp_dir / model_train
        scores = classifier.scores(classifier.load(run_dir), images)
        labels, record = binarise(scores, config["label_threshold"], run_dir,
                                  config.get("label_fallback", "none"), config["n_svm"])
        out[f"{key}_scores"], out[key] = scores, labels
        out[f"{key}_threshold"] = np.float64(record["threshold"])
        report[key] = dict(record, attribute=config["attribute" if key == "target" else "protected_attribute"])
        if record["fallback"]:
            print(f"note: {report[key]['attribute']}: {record['fallback']}")
    experiment.save_npz(path, **out)
    cli.write_json_atomic(exp_dir / "fake" / "labels.json", report)
    said = {k: f"{r['positive_rate']:.1%} positive at {r['rule']} threshold {r['threshold']:.3f}"
            + (" (fallback)" if r["fallback"] else "") for k, r in report.items()}
    print(f"== hallucinate: {len(images)} generated images; {config['attribute']}: {said['target']}; "
          f"{config['protected_attribute']}: {said['protected']}")
    return path


def check_flip(exp_dir, config, overwrite=False):
    """Re-score G(z') (the paper does not, REFERENCE 5g.5): how often the classifiers agree that the
    target label was kept and the protected label flipped, at the thresholds used for G(z).
    Writes fake/flip_check.json."""
    from debias import classifier
    path = exp_dir / "fake" / "flip_check.json"
    if experiment.done(path, overwrite, "the G(z') check"):
        return path
    labels = experiment.load_npz(exp_dir / "fake" / "labels.npz", "hallucinate")
    index = experiment.load_npz(exp_dir / "fake" / "latents_flip.npz", "hyperplane")["index"]
    flip = experiment.load_npz(exp_dir / "fake" / "flip.npz", "generate --generate flip")["images"]
    images = experiment.resize(flip, config["image_size"])
    report = {"n": len(index), "label_threshold": config["label_threshold"]}
    for key, model_train in (("target", "baseline"), ("protected", "protected")):
        scores = classifier.scores(classifier.load(exp_dir / model_train), images)
        new = (scores > float(labels[f"{key}_threshold"])).astype(np.int64)
        old = labels[key][index]
        report[key] = {"label_kept": float(np.mean(new == old)), "label_flipped": float(np.mean(new != old)),
                       "mean_score_z": float(labels[f"{key}_scores"][index].mean()),
                       "mean_score_z_flip": float(scores.mean()),
                       "mean_abs_score_change": float(np.mean(np.abs(scores - labels[f"{key}_scores"][index])))}
    cli.write_json_atomic(path, report)
    print(f"== check G(z'): {config['attribute']} label kept for {report['target']['label_kept']:.1%}, "
          f"{config['protected_attribute']} label flipped for {report['protected']['label_flipped']:.1%} "
          f"(re-scored by the baseline classifiers)")
    return path


# -- step 4: latent hyperplanes and complementary latents z' (debias.hyperplane) --

TOLERANCE = 1e-6


def hyperplanes(exp_dir, config, overwrite=False):
    from debias import latent      # scikit-learn: loaded when the step runs, not for a flag error
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


# -- every step in order (debias.pipeline) --

def run(args, config, evaluate=True):
    """Every step in order (each skips work already on disk), timed into EXP/timing.json; the
    evaluation last unless evaluate is False (debias.train without --model-train)."""
    data_dir = datasets.data_dir(args.data_dir)
    exp_dir = experiment.experiment_dir(args, config)
    source, prior = generator_source(args, config, exp_dir)   # fails fast, before any training
    exp_dir = experiment.open_experiment(args, config)
    over = args.overwrite
    # One entry per invocation: a resumed run (steps skipped in seconds) keeps the first run's times.
    path = exp_dir / "timing.json"
    runs = cli.read_json(path) if path.exists() else []
    runs = runs if isinstance(runs, list) else [{"started": None, "seconds": runs}]
    timing = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": {}}
    runs.append(timing)

    def step(name, fn, *a):
        start = time.perf_counter()
        result = fn(*a)
        timing["seconds"][name] = round(time.perf_counter() - start, 1)
        cli.write_json_atomic(path, runs)
        return result

    for model in ("baseline", "protected"):
        step(f"train {model}", train_model, model, config, exp_dir, data_dir, over)
    step("generate orig", orig, exp_dir, config, source, prior, over)
    step("hallucinate", hallucinate, exp_dir, config, over)
    step("hyperplane", hyperplanes, exp_dir, config, over)
    step("generate flip", flip, exp_dir, config, source, prior, over)
    step("check flip", check_flip, exp_dir, config, over)
    step("train gan-debiased", train_model, "gan-debiased", config, exp_dir, data_dir, over)
    if evaluate:
        from debias import report
        step("evaluate", report.evaluate, exp_dir, str(data_dir))
    print(f"== de-biasing experiment in {exp_dir} (timing.json: seconds per step of each invocation)")
    return exp_dir
