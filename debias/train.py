"""Train the attribute classifiers of GAN latent-space de-biasing (step 1 and step 5).

    python -m debias.train --model-train baseline --attribute Arched_Eyebrows --protected-attribute Male
    python -m debias.train --model-train protected      # the protected attribute's own classifier
    python -m debias.train --model-train gan-debiased   # real + G(z) + G(z'), after the other steps
    python -m debias.train --profile quick --data-dir D --out results/debias [--generator RUN]
        without --model-train: the whole pipeline up to the de-biased classifier (what run_all.sh
        runs; `python -m debias.pipeline` also evaluates)

Each classifier is a run directory inside the experiment directory (see debias/experiment.py):
config.json (with "imagenet_weights"), checkpoints/, losses.csv, val_ap.csv, best.keras, best.json.
"""

from common import cli, datasets
from debias import experiment, steps


def parser():
    p = experiment.parser("debias.train", __doc__.split("\n")[0], generator=True)
    p.add_argument("--model-train", choices=experiment.MODELS, default=None,
                   help="which classifier to train; without it, run the whole pipeline")
    return p


@cli.main
def main(argv=None):
    args = cli.parse_args(parser(), argv, experiment.PROFILES)
    config = experiment.resolve(args)
    if args.model_train is None:
        return steps.run(args, config, evaluate=False)
    data_dir = datasets.data_dir(args.data_dir)
    exp_dir = experiment.open_experiment(args, config)
    steps.train_model(args.model_train, config, exp_dir, data_dir, overwrite=args.overwrite)
    return exp_dir / args.model_train


if __name__ == "__main__":
    main()
