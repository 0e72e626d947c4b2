"""The fairness report of a de-biasing experiment (step 6, the original's compute_fairness): AP, DEO,
BA and KL of the baseline and the de-biased classifier on CelebA test, beside the paper's category
means. debias.evaluate is its command line; debias.steps.run calls it at the end of the pipeline."""
from pathlib import Path

from common import cli, datasets
from common.errors import UserError
from debias import experiment, metrics

NAMES = ("AP", "DEO", "BA", "KL")
ARROWS = {"AP": "higher is better", "DEO": "lower is better", "BA": "lower is better", "KL": "lower is better"}


def locate(run_dir):
    """(experiment dir, its config, {model name: classifier run dir})."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise UserError(f"{run_dir} holds no config.json; pass an experiment directory made by debias.train")
    if (run_dir / "best.keras").exists():
        exp_dir, models = run_dir.parent, {run_dir.name: run_dir}
    else:
        exp_dir = run_dir
        models = {m: run_dir / m for m in ("baseline", "gan-debiased") if (run_dir / m / "best.keras").exists()}
    if not models:
        raise UserError(f"{run_dir} has no trained classifier (baseline/best.keras); run debias.train first")
    config = cli.read_config(exp_dir)
    return exp_dir, config, models


def table(results, config, paper, difference=None):
    other = next(d for d in metrics.KL_DEFINITIONS if d != config["kl"])
    lines = [f"Target {config['attribute']}, protected {config['protected_attribute']}; CelebA test split, "
             f"threshold calibrated on val; median of {config['bootstrap']} bootstrap resamples +- 2 std.",
             f"KL: the {config['kl']} definition; last column the {other} one (the paper's is 'original').",
             "", f"| Model | AP (up) | DEO (down) | BA (down) | KL (down) | KL {other} (down) |",
             "|---|---|---|---|---|---|"]
    for model, r in results.items():
        cells = [f"{r[n]['median']:.1f} +- {r[n]['pm2std']:.1f}" if n != "KL" else
                 f"{r[n]['median']:.2f} +- {r[n]['pm2std']:.2f}" for n in NAMES]
        if "KL_other" in r:
            cells.append(f"{r['KL_other']['median']:.2f} +- {r['KL_other']['pm2std']:.2f}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    for model, values in paper.items():
        lines.append(f"| paper, {experiment.category(config['attribute'])} mean, {model} | "
                     + " | ".join(str(values[n]) for n in NAMES) + " | |")
    if difference:   # both models scored on the same resamples: their difference has its own interval
        cells = [f"{difference[n]['median']:+.1f} +- {difference[n]['pm2std']:.1f} "
                 f"(lower in {100 * difference[n]['share_lower']:.0f}%)" for n in ("AP", "DEO", "BA")]
        lines.append("| gan-debiased - baseline, paired | " + " | ".join(cells) + " | | |")
    return "\n".join(lines) + "\n"


def headline(results, config, paper, notes):
    rows = []
    for model, r in results.items():
        for n in NAMES:
            rows.append({"paper": "GAN de-biasing",
                         "metric": f"{n}{' ' + config['kl'] if n == 'KL' else ''} ({ARROWS[n]}), {model}, "
                                   f"{config['attribute']} vs "
                                   f"{config['protected_attribute']}, CelebA subset test",
                         "paper_value": paper.get(model, {}).get(n),
                         "value": round(r[n]["median"], 4), "notes": notes})
    return rows


def notes_text(labelling, svm):
    """How the generated images were labelled (and whether the median fallback was used) and how
    many z' were clipped to the prior's box."""
    lines = []
    for key, r in (labelling or {}).items():
        lines.append(f"- hallucinated {r['attribute']} labels: {r['rule']} threshold {r['threshold']:.3f}, "
                     f"{100 * r['positive_rate']:.1f}% positive" + (f"; FALLBACK: {r['fallback']}" if r["fallback"] else ""))
    clip = (svm or {}).get("clipping")
    if clip and clip.get("clipped"):
        lines.append(f"- z' clipped to [-1, 1]: {100 * clip['fraction_latents_clipped']:.1f}% of the latents; "
                     f"protected side flipped for {100 * clip['protected_side_flipped']:.1f}%, target side kept "
                     f"for {100 * clip['target_side_kept']:.1f}% of the pairs")
    elif clip:
        lines.append(f"- z' not clipped ({clip.get('reason')})")
    return ("\n" + "\n".join(lines) + "\n") if lines else ""


def evaluate(run_dir, data_dir=None, bootstrap=None, kl=None):
    """Score the experiment's classifiers (or the one classifier run `run_dir`) and write
    metrics.json, metrics.md and headline.json into `run_dir`; returns it. `data_dir`: the dataset
    root as given (None: $GAN_DATA_DIR, else ./data); bootstrap, kl: None = the experiment's."""
    out = Path(run_dir)      # where the report goes (the loop below reuses the name run_dir)
    exp_dir, config, models = locate(run_dir)
    if bootstrap:
        config["bootstrap"] = bootstrap
    # experiments configured before the option: the profile's definition
    config["kl"] = kl or config.get("kl") or experiment.PROFILES[config["profile"]]["kl"]
    data_dir = datasets.data_dir(data_dir)
    from debias import classifier
    val = experiment.real_data(config, data_dir, "val")
    test = experiment.real_data(config, data_dir, "test")
    results, val_results, extra, test_runs = {}, {}, {}, {}
    for model, run_dir in models.items():
        clf = classifier.load(run_dir)
        val_scores = classifier.scores(clf, val[0], progress=f"{model} scores, val")
        test_scores = classifier.scores(clf, test[0], progress=f"{model} scores, test")
        thr = metrics.calibrated_threshold(val[1], val_scores)
        seed, repeats = config["seed"], config["bootstrap"]
        test_runs[model] = metrics.resampled(test[1], test[2], test_scores, thr, repeats, seed, config["kl"],
                                             progress=f"{model} bootstrap, test")
        results[model] = metrics.fairness(test[1], test[2], test_scores, thr, repeats, seed, test_runs[model],
                                          kl_definition=config["kl"])
        val_results[model] = metrics.fairness(val[1], val[2], val_scores, thr, repeats, seed,
                                              kl_definition=config["kl"], progress=f"{model} bootstrap, val")
        extra[model] = cli.read_config(run_dir).get("imagenet_weights")
    if (exp_dir / "protected" / "best.keras").exists():
        clf = classifier.load(exp_dir / "protected")
        extra["protected_classifier_test_ap"] = 100 * metrics.average_precision(
            test[2], classifier.scores(clf, test[0], progress="protected-attribute classifier scores, test"))
    planes = exp_dir / "fake" / "hyperplanes.json"
    svm = None
    if planes.exists():
        h = cli.read_json(planes)
        svm = {k: {"fit": h[k]["svm_accuracy_fit"], "heldout": h[k]["svm_accuracy_heldout"]}
               for k in ("target", "protected")}
        svm["cos_wg_wa"] = h["cos_wg_wa"]
        svm["clipping"] = h.get("clipping")
    labelling_path = exp_dir / "fake" / "labels.json"
    labelling = cli.read_json(labelling_path) if labelling_path.exists() else None
    check = exp_dir / "fake" / "flip_check.json"
    generator = exp_dir / "fake" / "generator.json"
    paper = experiment.PAPER[experiment.category(config["attribute"])]
    record = {"attribute": config["attribute"], "protected_attribute": config["protected_attribute"],
              "category": experiment.category(config["attribute"]), "profile": config["profile"],
              "seed": config["seed"], "bootstrap": config["bootstrap"], "kl_definition": config["kl"],
              "test": results, "val": val_results,
              "imagenet_weights": {m: v for m, v in extra.items() if m in models},
              "protected_classifier_test_ap": extra.get("protected_classifier_test_ap"),
              "test_difference": (metrics.paired_difference(test_runs["baseline"], test_runs["gan-debiased"])
                                  if {"baseline", "gan-debiased"} <= set(test_runs) else None),
              "svm_accuracy": svm, "paper_category_means": paper,
              "labelling": labelling,
              "flip_check": cli.read_json(check) if check.exists() else None,
              "generator": cli.read_json(generator) if generator.exists() else None}
    cli.write_json_atomic(out / "metrics.json", record)
    text = table(results, config, paper, record["test_difference"]) + notes_text(labelling, svm)
    (out / "metrics.md").write_text(text)
    notes = (f"profile {config['profile']}, seed {config['seed']}, {config['backbone']} classifier"
             + (f", generator {record['generator']['source']}" if record["generator"] else "")
             + "; paper value = the paper's category mean")
    cli.write_headline(out, headline(results, config, paper, notes))
    print(text)
    if svm:
        print(f"SVM accuracy on held-out latents: {config['attribute']} {svm['target']['heldout']:.3f}, "
              f"{config['protected_attribute']} {svm['protected']['heldout']:.3f}")
    return out
