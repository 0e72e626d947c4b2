"""Shared command line: the parent parser, profiles, run directories and the one-line error wrapper."""
import argparse
import functools
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

from common.errors import TrainingError, UserError

# Keys that may change between a run and its resumption: where things live and how long to go on.
RESUME_FREE_KEYS = {"epochs", "overwrite", "data_dir", "out", "strategy", "jit_compile", "verbose",
                    "quiet", "save_every", "sample_every", "profile"}
STATE_FILE = "state.json"          # written by common.training once a checkpoint exists
CONFIG_FILE = "config.json"

# Run directories made by this process; removed again if the run fails before its first checkpoint.
_created_run_dirs = []


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) instead of usage + message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def bounded(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse type that converts with `kind` and checks the value lies in the given range."""
    def check(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
            hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: need {lo}value{hi}")
        return value
    check.__name__ = kind.__name__
    return check


positive_int = bounded(int, 1)


def parent_parser():
    """The flags every entry point shares; profile-controlled flags default to None (= the profile's)."""
    p = ArgumentParser(add_help=False)
    g = p.add_argument_group("shared options")
    g.add_argument("--data-dir", default=None,
                   help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    g.add_argument("--out", default=None, help="where run directories go")
    g.add_argument("-s", "--seed", type=int, default=0, help="seeds Python, NumPy and Keras (default 0)")
    g.add_argument("--profile", choices=("smoke", "quick", "paper"), default="quick",
                   help="smoke = seconds, quick = ~30 min on a 2-core CPU, paper = published settings")
    g.add_argument("-e", "--epochs", type=positive_int, default=None, help="training epochs (profile)")
    g.add_argument("--batch-size", type=positive_int, default=None, help="global batch size (profile)")
    g.add_argument("--overwrite", action="store_true",
                   help="start the run over instead of resuming from its latest checkpoint")
    g.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                   help="tf.distribute strategy for training")
    g.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step (slower on CPU)")
    g.add_argument("--save-every", type=positive_int, default=1, help="checkpoint every N epochs")
    return p


def resolve(args, profiles, exclude=()):
    """The run's configuration: the chosen profile's values, overridden by every flag given
    except those in `exclude` (flags that steer this invocation but do not define the run)."""
    config = dict(profiles[args.profile])
    config.update({k: v for k, v in vars(args).items() if v is not None and k not in exclude})
    return config


def versions():
    names = ("tensorflow", "keras", "numpy", "tensorflow-datasets", "scikit-learn", "scipy")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def config_differences(old, new):
    keys = (set(old) | set(new)) - RESUME_FREE_KEYS
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def is_chief():
    """Whether this process writes the run directory: False only on the non-chief workers of a
    multi-worker run, as named by TF_CONFIG (the chief, else worker 0, is the one that writes)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task, cluster = tf_config.get("task") or {}, tf_config.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def prepare_run_dir(run_dir, config):
    """Create (or reopen for resumption) a run directory and write its config.json.

    An existing run with a checkpoint is resumed only when its configuration matches; `--overwrite`
    starts it over. Call this after the inputs have been validated, so that a mistake never touches
    what is on disk. The other workers of a multi-worker run (TF_CONFIG) only check: the chief writes.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    writes = is_chief()
    if run_dir.exists() and config.get("overwrite"):
        if writes:
            shutil.rmtree(run_dir)
    elif (run_dir / STATE_FILE).exists() and config_path.exists():
        old = json.loads(config_path.read_text())["config"]
        diff = config_differences(old, config)
        if diff:
            changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise UserError(f"{run_dir} was trained with another configuration ({changes}); "
                            "pass --overwrite to start over or --out for a new run")
    if not writes:
        return run_dir
    if not run_dir.exists():
        _created_run_dirs.append(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"config": config, "versions": versions(), "seed": config.get("seed"),
              "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json_atomic(config_path, record)
    return run_dir


def new_output(path, overwrite, flag="--out"):
    """`path` as a Path, refusing (one line, exit 2) to replace an existing file or folder
    unless --overwrite was given: nothing already on disk is lost by accident."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{path} exists; pass --overwrite to replace it or choose another {flag}")
    return path


def write_json_atomic(path, obj):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def _discard_unfinished_run_dirs():
    """A run dir this process made and that holds no checkpoint would look like a real run: remove it."""
    while _created_run_dirs:
        run_dir = _created_run_dirs.pop()
        if run_dir.exists() and not (run_dir / STATE_FILE).exists():
            shutil.rmtree(run_dir, ignore_errors=True)


def main(fn):
    """Decorate an entry point: user errors become one line on stderr and exit status 2."""
    @functools.wraps(fn)
    def wrapper(argv=None):
        script = Path(sys.argv[0])
        prog = script.parent.name if script.name == "__main__.py" else f"{script.parent.name}/{script.name}"
        try:
            return fn(argv)
        except UserError as e:
            _discard_unfinished_run_dirs()
            sys.stderr.write(f"{prog}: error: {e}\n")
            sys.exit(2)
        except TrainingError as e:
            sys.stderr.write(f"{prog}: training stopped: {e}\n")
            sys.exit(1)
        except KeyboardInterrupt:
            sys.stderr.write(f"{prog}: interrupted; run it again to resume from the last checkpoint\n")
            sys.exit(130)
    return wrapper
