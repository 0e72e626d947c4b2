"""GAN latent-space de-biasing end to end, in the original's order (one command).

    python -m debias.pipeline --profile quick --data-dir ../shared/data --generator results/began/<run> \
        --attribute Arched_Eyebrows --protected-attribute Male

 1. train the baseline classifiers: target (baseline/) and protected (protected/)
 2. sample z from the generator's prior, render G(z)                 (generate --generate orig)
 3. hallucinate target and protected labels of G(z)                 (hallucinate)
 4. fit the latent SVMs, compute z' and render G(z')                 (hyperplane, generate --generate flip)
    and re-score G(z') to see whether the labels did flip (fake/flip_check.json; not in the paper)
 5. train the de-biased classifier on real + G(z) + G(z')            (train --model-train gan-debiased)
 6. evaluate baseline vs de-biased                                   (evaluate)
Every step skips work already on disk, so running the command again resumes; --overwrite redoes
every step. Without --generator, the BEGAN run of the same profile under <out>/../began is used.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402

from common import cli, datasets  # noqa: E402
from debias import experiment  # noqa: E402


def parser():
    return experiment.parser("debias.pipeline", __doc__.split("\n")[0], generator=True)


def run(args, config, evaluate=True):
    from debias import generate, hallucinate, hyperplane, train
    data_dir = datasets.data_dir(args.data_dir)
    exp_dir = experiment.experiment_dir(args, config)
    source, prior = generate.generator_source(args, config, exp_dir)   # fails fast, before any training
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
        step(f"train {model}", train.train_model, model, config, exp_dir, data_dir, over)
    step("generate orig", generate.orig, exp_dir, config, source, prior, over)
    step("hallucinate", hallucinate.hallucinate, exp_dir, config, over)
    step("hyperplane", hyperplane.hyperplanes, exp_dir, config, over)
    step("generate flip", generate.flip, exp_dir, config, source, prior, over)
    step("check flip", hallucinate.check_flip, exp_dir, config, over)
    step("train gan-debiased", train.train_model, "gan-debiased", config, exp_dir, data_dir, over)
    if evaluate:
        from debias import evaluate as ev
        argv = [str(exp_dir), "--data-dir", str(data_dir)]
        step("evaluate", ev.main.__wrapped__, argv)
    print(f"== de-biasing experiment in {exp_dir} (timing.json: seconds per step of each invocation)")
    return exp_dir


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    return run(args, experiment.resolve(args))


if __name__ == "__main__":
    main()
