"""Shared command line: the parent parser, profiles, run directories and the one-line error wrapper."""
import argparse
import atexit
import errno
import functools
import itertools
import json
import math
import os
import platform
import shlex
import shutil
import socket
import sys
import time
from importlib import metadata
from pathlib import Path

from common.errors import TrainingError, UserError

# Keys that may change between a run and its resumption: where things live and how long to go on.
RESUME_FREE_KEYS = {"epochs", "overwrite", "data_dir", "out", "strategy", "jit_compile", "verbose",
                    "quiet", "save_every", "sample_every", "profile", "tensorboard"}
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Keys added after runs were already made, at the value those runs had: an old run without the key
# resumes under the default.
ADDED_KEYS = {"precision": "float32", "ms_lambda": 0.0, "mismatch": 0.0, "d_warmup": 0, "d_lr_scale": 1.0,
              "trunk": "bagan", "openai_details": False, "mismatch_gp": False}   # keys added after runs were written
STATE_FILE = "state.json"          # written by common.training once a checkpoint exists
CONFIG_FILE = "config.json"
LOCK_FILE = "run.lock"             # "PID host" of the process training in a run directory

# Run directories made by this process; removed again if the run fails before its first checkpoint.
_created_run_dirs = []
_held_locks = []                   # lock files this process holds; released at exit


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
            noun = {"int": "an integer", "float": "a number"}.get(kind.__name__, f"a {kind.__name__}")
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
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
seed = bounded(int, 0, 2**32 - 1)      # the range NumPy and Keras accept


def image_size(text):
    """--image-size: '28' or '32x48' (height x width) -> [height, width] (a list, as config.json keeps it)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 2:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH (>= 2), got {text!r}")
    return parts * 2 if len(parts) == 1 else parts


def run_name(text):
    """An argparse type for `--name`: one folder name, so the run stays inside --out."""
    if text in ("", ".", "..") or "/" in text or os.sep in text or "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder name (no '/', not '.' or '..')")
    return text


def parent_parser():
    """The flags every entry point shares; profile-controlled flags default to None (= the profile's)."""
    p = ArgumentParser(add_help=False)
    g = p.add_argument_group("shared options")
    g.add_argument("--data-dir", default=None,
                   help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    g.add_argument("--out", default=None, help="where run directories go")
    g.add_argument("-s", "--seed", type=seed, default=0, help="seeds Python, NumPy and Keras (default 0)")
    g.add_argument("--profile", choices=("smoke", "quick", "paper"), default="quick",
                   help="smoke = seconds, quick = ~30 min on a 2-core CPU, paper = published settings")
    g.add_argument("-e", "--epochs", type=positive_int, default=None, help="training epochs (profile)")
    g.add_argument("--batch-size", type=positive_int, default=None, help="global batch size (profile)")
    g.add_argument("--overwrite", action="store_true",
                   help="start the run over instead of resuming from its latest checkpoint")
    g.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                   help="tf.distribute strategy for training")
    g.add_argument("--jit-compile", action="store_true", help="XLA-compile the train step (slower on CPU)")
    g.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="compute dtype of the networks (losses stay float32; mixed_float16 adds loss "
                        "scaling): mixed_float16 on GPUs, mixed_bfloat16 on CPUs with AMX/AVX512-BF16")
    g.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard logs (losses, sample grids) to RUN_DIR/tensorboard")
    g.add_argument("--save-every", type=positive_int, default=1, help="checkpoint every N epochs")
    return p


def parse_args(parser, argv=None, profiles=None, by_dataset=None):
    """`parser.parse_args(argv)`, with `--help` showing each profile-controlled default as resolved
    for the --profile given on the same command line (e.g. `--profile paper --help`), and what
    `by_dataset` (see `profile_values`) changes in it for a dataset."""
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if profiles and any(a in ("-h", "--help") for a in args):
        profile = parser.get_default("profile")
        for i, a in enumerate(args):
            if a == "--profile" and i + 1 < len(args):
                profile = args[i + 1]
            elif a.startswith("--profile="):
                profile = a.split("=", 1)[1]
        values = profiles.get(profile, {})
        for action in parser._actions:
            if action.dest in values and action.default is None and action.help != argparse.SUPPRESS:
                text = (action.help or "").replace("(profile)", "").strip()
                shown = [f"--profile {profile}: {values[action.dest]!r}"]
                shown += [f"{name}: {table[profile][action.dest]!r}" for name, table in (by_dataset or {}).items()
                          if action.dest in table.get(profile, {})]
                action.help = f"{text} ({'; '.join(shown)})".strip().replace("%", "%%")
    return parser.parse_args(args)


def profile_values(profiles, profile, dataset=None, by_dataset=None):
    """A profile's values for a dataset: `profiles[profile]`, updated with `by_dataset[name][profile]`
    when `dataset` is `name` (in any case), e.g. by_dataset = {"GTSRB": {"quick": {"epochs": 100}}}:
    one profile name keeps one meaning (a CPU budget) on datasets of other sizes."""
    values = dict(profiles[profile])
    tables = {str(name).lower(): table for name, table in (by_dataset or {}).items()}
    values.update(tables.get(str(dataset).lower(), {}).get(profile, {}))
    return values


def resolve(args, profiles, exclude=(), by_dataset=None):
    """The run's configuration: the chosen profile's values (with what `by_dataset` changes in them
    for the dataset given by --dataset or the profile), overridden by every flag given except those
    in `exclude` (flags that steer this invocation but do not define the run)."""
    dataset = getattr(args, "dataset", None) or profiles[args.profile].get("dataset")
    config = profile_values(profiles, args.profile, dataset, by_dataset)
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


def defining(config):
    """The keys that define a run (what resuming must match), without added keys at their default."""
    return {k: v for k, v in config.items()
            if k not in RESUME_FREE_KEYS and not (k in ADDED_KEYS and v == ADDED_KEYS[k])}


def config_differences(old, new):
    old, new = defining(old), defining(new)
    keys = set(old) | set(new)
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def command_line():
    """This process's command as a user would type it again: `python -m package.module ARGS`."""
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    head = ["python", "-m", spec.name] if spec and spec.name != "__main__" else ["python", sys.argv[0]]
    return shlex.join(head + sys.argv[1:])


def write_headline(run_dir, rows):
    """RUN_DIR/headline.json: the evaluation's figures for the scoreboard (common.summary), each
    {paper, metric, paper_value, value, notes[, target, seeds]} with the command that made it."""
    write_json_atomic(Path(run_dir) / "headline.json", [dict(row, command=command_line()) for row in rows])


def read_json(path, what="file"):
    """A JSON file of the suite (config.json, state.json, metrics): a missing or damaged one is a
    one-line user error naming it, not a traceback."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path} is not a readable JSON {what} ({e}); restore it, or make it "
                        "again (a run: train it again with --overwrite)") from None


# One name per concept in every package's configuration: {name in config.json files written before: name}.
# Such files are read under the new names, and their checkpoints still resume (common.training).
RENAMED = {"learning_rate": "lr", "d_steps": "critic_steps", "max_images": "train_limit",
           "max_train": "train_limit"}


def current_names(config):
    return {RENAMED.get(k, k): v for k, v in config.items()}


def former_namings(config):
    """`config` under every mix of current and former names, current first: one of them is what a
    run written before a renaming hashed."""
    options = [[(k, v)] + [(old, v) for old, new in RENAMED.items() if new == k] for k, v in config.items()]
    return [dict(naming) for naming in itertools.product(*options)]


def read_config(run_dir):
    """The configuration a run directory was made with (its config.json's "config"), in current names."""
    record = read_json(Path(run_dir) / CONFIG_FILE, "run configuration")
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise UserError(f"{Path(run_dir) / CONFIG_FILE} is not a run configuration of this suite")
    return current_names(record["config"])


def epochs_done(run_dir):
    """Epochs of the latest checkpoint of a run directory (0 when it has none)."""
    state = Path(run_dir) / STATE_FILE
    return int(read_json(state, "training state").get("epoch", 0)) if state.exists() else 0


def _check_folder_path(path):
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise UserError(f"{p} exists and is not a folder; choose another --out")


def _lock_owner(path):
    try:
        pid, host = path.read_text().split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None, None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_in_progress(run_dir):
    """Whether a live process holds `run_dir`'s lock (a lock taken on another host counts as live)."""
    pid, host = _lock_owner(Path(run_dir) / LOCK_FILE)
    return pid is not None and (host != socket.gethostname() or _alive(pid))


def lock_run_dir(run_dir):
    """Hold `run_dir/run.lock` for this process: a second run into the same directory is refused in
    one line; a lock left by a process that no longer runs (kill -9) is taken over, and said so."""
    path = Path(run_dir) / LOCK_FILE
    me = (os.getpid(), socket.gethostname())
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            pid, host = _lock_owner(path)
            if (pid, host) == me:
                return path
            if run_in_progress(run_dir):
                raise UserError(f"{run_dir} is in use by another run (PID {pid} on {host}); wait for it "
                                f"to finish, or remove {path} if that run is gone") from None
            print(f"{run_dir}: taking over a stale lock (PID {pid} is not running)", file=sys.stderr)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{me[0]} {me[1]}\n")
        _held_locks.append(path)
        return path


def release_locks():
    while _held_locks:
        path = _held_locks.pop()
        if _lock_owner(path)[0] == os.getpid():
            path.unlink(missing_ok=True)


atexit.register(release_locks)


def _check_deletable(run_dir):
    """--overwrite empties only a run directory that this suite made (it holds our config.json),
    never the folder we stand in or one above it: a run name like '.' or '..' cannot delete runs."""
    resolved, cwd = run_dir.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        raise UserError(f"refusing to delete {run_dir}: it is the current folder or one above it")
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"refusing to delete {run_dir}: it holds no {CONFIG_FILE}, so it is not a run "
                        "directory of this suite; choose another --out or --name")
    read_config(run_dir)


def _clear_run_dir(run_dir):
    for entry in run_dir.iterdir():
        if entry.name != LOCK_FILE:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


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


def prepare_run_dir(run_dir, config, package=None):
    """Create (or reopen for resumption) a run directory, lock it, and write its config.json.

    An existing run with a checkpoint is resumed only when its configuration matches; `--overwrite`
    starts it over. Call this after the inputs have been validated, so that a mistake never touches
    what is on disk. The other workers of a multi-worker run (TF_CONFIG) only check: the chief writes.
    `package` (e.g. "bagan") is recorded so that common.generators knows which package wrote the run.
    """
    run_dir = Path(run_dir)
    _check_folder_path(run_dir)
    config_path = run_dir / CONFIG_FILE
    if not config.get("overwrite") and (run_dir / STATE_FILE).exists() and config_path.exists():
        diff = config_differences(read_config(run_dir), config)
        if diff:
            changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise UserError(f"{run_dir} was trained with another configuration ({changes}); "
                            "pass --overwrite to start over or --out for a new run")
    if not is_chief():           # another worker of a multi-worker run: it checks, the chief writes
        return run_dir
    if run_dir.exists():
        if config.get("overwrite") and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
            _check_deletable(run_dir)
        lock_run_dir(run_dir)
        if config.get("overwrite"):
            _clear_run_dir(run_dir)
    else:
        _created_run_dirs.append(run_dir)
        run_dir.mkdir(parents=True)
        lock_run_dir(run_dir)
    record = {"config": config, "versions": versions(), "seed": config.get("seed"),
              "command": command_line(), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    if package:
        record["package"] = package
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
    try:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    except OSError:
        tmp.unlink(missing_ok=True)      # a full disk leaves no half-written file behind
        raise
    os.replace(tmp, path)


def _discard_unfinished_run_dirs():
    """A run dir this process made and that holds no checkpoint would look like a real run: remove it."""
    while _created_run_dirs:
        run_dir = _created_run_dirs.pop()
        if run_dir.exists() and not any(run_dir.rglob(STATE_FILE)):    # nor in a sub-run (cgan/)
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
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            _discard_unfinished_run_dirs()
            sys.stderr.write(f"{prog}: error: no space left on the device writing "
                             f"{e.filename or 'a file'}; free some space and run it again (the last "
                             "good checkpoint is kept)\n")
            sys.exit(1)
        finally:
            release_locks()
    return wrapper
