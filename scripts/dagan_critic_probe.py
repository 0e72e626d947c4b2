"""Does a trained DAGAN critic judge pairs? Scores D(candidate, source) for real images of the
source's character, real images of another character and G(source, z), on classes LO..HI-1.

    python scripts/dagan_critic_probe.py RUN_DIR LO HI [--data-dir ../shared/data] [--sources 400]

Prints each kind's mean score and P(D(a) > D(b)) for the pairs of kinds (0.5 = the critic does not
tell them apart). Uses the run's latest checkpoint, inference mode.
"""
# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import cli, datasets

import glob

import numpy as np

from dagan import gan, models  # noqa: F401  (models registers the layers a generator may hold)
from dagan.data import load


@cli.main
def main(argv=None):
    p = cli.ArgumentParser(prog="scripts/dagan_critic_probe.py", description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("lo", type=int)
    p.add_argument("hi", type=int)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--sources", type=cli.bounded(int, 2), default=400)
    args = p.parse_args(argv)
    cfg = cli.read_json(f"{args.run_dir}/config.json", "run configuration")["config"]
    images, labels = load(cfg, datasets.data_dir(args.data_dir))
    model = gan.build(cfg, images.shape[1:])()
    x = np.zeros((2, *images.shape[1:]), "float32")
    model.generator([x, np.zeros((2, cfg["z_dim"]), "float32")])
    model.critic([x, x])                                   # variables exist before the weights load
    model.load_weights(sorted(glob.glob(f"{args.run_dir}/checkpoints/*.weights.h5"))[-1])
    rng = np.random.default_rng(0)
    pool = np.flatnonzero((labels >= args.lo) & (labels < args.hi))
    src = rng.choice(pool, args.sources)
    same = np.array([rng.choice(pool[(labels[pool] == labels[s]) & (pool != s)]) for s in src])
    other = np.array([rng.choice(pool[labels[pool] != labels[s]]) for s in src])
    scaled = lambda i: images[i].astype("float32") / 127.5 - 1                       # noqa: E731
    sources = scaled(src)
    z = rng.standard_normal((len(src), cfg["z_dim"])).astype("float32")
    score = lambda a: model.critic([a, sources], training=False).numpy().ravel()    # noqa: E731
    kinds = {"same": score(scaled(same)), "other": score(scaled(other)),
             "generated": score(model.generator([sources, z], training=False).numpy())}
    for name, v in kinds.items():
        print(f"{name:10s} mean {v.mean():8.3f} std {v.std():7.3f}")
    for a, b in (("same", "other"), ("same", "generated"), ("generated", "other")):
        print(f"P(D({a}) > D({b})) = {np.mean(kinds[a][:, None] > kinds[b][None]):.3f}")


if __name__ == "__main__":
    main()
