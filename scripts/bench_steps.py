"""Training-step rate of each package's GAN through `model.fit`, on constant in-memory batches.

    python scripts/bench_steps.py [cgan infogan dagan began bagan] [--profiles paper,quick]
        [--steps N] [--warmup N] [--calls N] [--models N] [--loop] [--precision P] [--jit]
        [--steps-per-execution N] [--sample-threads] [--suite-callbacks] [--out table.md] [--json runs.json]

For every package and profile (the widths and batch of its train.py PROFILES; CGAN and InfoGAN have
one architecture, so their quick profile is the paper one and is run once): `--models` fresh models,
each built through the package's own builder, then one warm-up `fit` (tracing; not timed), then
`--calls` timed `fit` calls of `--steps` steps on `tf.data.Dataset.from_tensors(batch).repeat()`.
Per call: steps/s and CPU utilisation = process CPU seconds / wall seconds (2.0 = both cores of a
2-core machine busy), plus the CPU seconds of each thread group (which threads did the work). `--loop`
also times a plain `tf.function(model.train_step)` loop over the same constant batch on the same
model, for comparison with `fit`. `--suite-callbacks` adds common.training's NaNGuard and per-step
CSVLog to every timed `fit` (the callbacks a real run has).

Numbers are only comparable within one sitting on an otherwise idle machine: the header records the
load average before and after, and a util far below the core count marks a contended (or slow-mode) call.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# common first: importing it keeps TensorFlow's start-up lines off the terminal (common/__init__.py)
from common import pipeline, training

import keras
import numpy as np
import tensorflow as tf

PACKAGES = ("cgan", "infogan", "dagan", "began", "bagan")
DEFAULT_STEPS = {"cgan": 50, "infogan": 30, "dagan": 5, "began": 20, "bagan": 30}


# -- one (package, profile): a builder, a constant batch, and what a step consumes ---------------------

def _cgan_infogan(name, profile, jit):
    from cgan_infogan import gan, variants
    from cgan_infogan.profiles import PROFILES
    p = PROFILES[profile]
    b, rng = p["batch_size"], np.random.default_rng(0)
    x = rng.uniform(-1, 1, (b, 28, 28, 1)).astype("float32")
    # as train.py's data_fn: CGAN gets (images, int64 labels), InfoGAN images only
    batch = (x, rng.integers(0, 10, b).astype("int64")) if name == "cgan" else x
    variant = variants.INFOGAN_VARIANTS[p["infogan_variant"]] if name == "infogan" else None
    lr = p["cgan_lr"] if name == "cgan" else None
    make = gan.build(name, seed=0, lr=lr or 2e-4, jit_compile=jit, variant=variant)
    return make, batch, dict(batch=b, images_per_step=b, widths="original (one architecture)")


def _dagan(profile, jit):
    from dagan import gan
    from dagan.profiles import PROFILES
    cfg = dict(PROFILES[profile], seed=0, jit_compile=jit)
    cfg["widths"] = list(cfg["widths"])
    b, k = cfg["batch_size"], cfg["critic_steps"] + 1
    rng = np.random.default_rng(0)
    batch = tuple(rng.uniform(-1, 1, (b, k, 28, 28, 1)).astype("float32") for _ in range(2))
    return gan.build(cfg, (28, 28, 1)), batch, dict(
        batch=b, images_per_step=b * k, widths=f"{cfg['widths']} G{cfg['generator_inner_layers']}/D{cfg['critic_inner_layers']} inner")


def _began(profile, jit):
    from began import gan
    from began.profiles import PROFILES
    cfg = dict(PROFILES[profile], seed=0, jit_compile=jit)
    b, s = cfg["batch_size"], cfg["image_size"]
    batch = np.random.default_rng(0).uniform(-1, 1, (b, s, s, 3)).astype("float32")
    return gan.build(cfg, channels=3), batch, dict(
        batch=b, images_per_step=b, widths=f"{s}px n={cfg['num_filters']} h={cfg['hidden']}")


def _bagan(profile, jit):
    """The adversarial phase (phase 3) of bagan/train.py, MNIST-shaped, without its test stream (the
    per-epoch test losses are not part of a step). The class Gaussians are N(0, I) stand-ins for the
    encoder's: same cost, no autoencoder phase needed."""
    from bagan import gan
    from bagan.profiles import PROFILES
    cfg = PROFILES[profile]
    b, classes, lr = cfg["batch_size"], 10, cfg["lr"]
    rng = np.random.default_rng(0)
    batch = (rng.uniform(-1, 1, (b, 28, 28, 1)).astype("float32"), rng.integers(0, classes, b).astype("int32"))
    probs = pipeline.class_probabilities(np.arange(classes), "uniform", classes)

    class Latent:
        means = np.zeros((classes, gan.models.LATENT_DIM), "float32")
        factors = np.broadcast_to(np.eye(gan.models.LATENT_DIM, dtype="float32"),
                                  (classes, gan.models.LATENT_DIM, gan.models.LATENT_DIM))

    def make():
        model = gan.BAGAN((28, 28, 1), classes, d_probs=probs, g_probs=probs, width=cfg["width"], seed=0)
        model.set_latent(Latent)
        model.compile(d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5),
                      g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5), jit_compile=jit)
        return model
    return make, batch, dict(batch=b, images_per_step=b, widths=f"width x{cfg['width']}")


def setup(package, profile, jit):
    if package in ("cgan", "infogan"):
        return _cgan_infogan(package, profile, jit)
    return {"dagan": _dagan, "began": _began, "bagan": _bagan}[package](profile, jit)


def profiles_of(package, wanted):
    # CGAN/InfoGAN profiles differ in epochs and data only, not in networks or batch
    if package in ("cgan", "infogan"):
        return ["paper"] if {"paper", "quick"} & set(wanted) else []
    return list(wanted)


# -- measurement ----------------------------------------------------------------------------------------

def thread_cpu():
    """CPU seconds of every live thread of this process, keyed (tid, name). Python threads carry their
    threading name (e.g. ThreadPoolExecutor-0_0, Keras' async callbacks); native ones their comm."""
    tick = os.sysconf("SC_CLK_TCK")
    py = {t.native_id: t.name for t in threading.enumerate()}
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:        # the thread ended meanwhile
            continue
        name = py.get(int(tid), comm)
        out[(int(tid), name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def group(name):
    for prefix in ("ThreadPoolExecutor", "tf_", "MainThread"):
        if name.startswith(prefix):
            return name.split("-")[0] if prefix == "ThreadPoolExecutor" else name
    return name


def cpu_by_thread(before, after):
    """CPU seconds per thread group, and the busiest single threads ("name/tid"): how many threads
    shared the work tells intra-op parallelism apart from one thread doing everything."""
    groups, single = {}, {}
    for key, seconds in after.items():
        spent = seconds - before.get(key, 0.0)
        if spent > 0:
            groups[group(key[1])] = round(groups.get(group(key[1]), 0.0) + spent, 2)
            single[f"{key[1]}/{key[0]}"] = round(spent, 2)
    return (dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            dict(sorted(single.items(), key=lambda kv: -kv[1])[:6]))


def system_cpu():
    """Machine-wide (busy, steal) CPU seconds from /proc/stat: busy minus this process's CPU is what
    other processes took; steal is what the hypervisor gave to other guests."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]            # idle + iowait
    return (sum(fields[:8]) - idle) / tick, fields[7] / tick


class Runnable:
    """Samples, every `interval` s, how many of this process's threads are runnable (state R: running,
    or ready and waiting for a core). Parallel work shows about 2 on a 2-core machine even when other
    processes take the cores; work serialised onto one thread at a time shows about 1."""

    def __init__(self, interval=0.005):
        self.interval, self.counts, self.stop = interval, {}, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self.thread.start()
        return self

    def _run(self):
        me = threading.get_native_id()
        while not self.stop.wait(self.interval):
            n = 0
            for tid in os.listdir("/proc/self/task"):
                if int(tid) == me:
                    continue
                try:
                    with open(f"/proc/self/task/{tid}/stat") as f:
                        n += f.read().rsplit(")", 1)[1].split()[0] == "R"
                except OSError:
                    pass
            self.counts[n] = self.counts.get(n, 0) + 1

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def summary(self):
        total = sum(self.counts.values())
        if not total:
            return {}
        return {"samples": total, "mean_runnable": round(sum(k * v for k, v in self.counts.items()) / total, 2),
                "share_by_runnable": {k: round(v / total, 2) for k, v in sorted(self.counts.items())}}


SAMPLE = False      # set by --sample-threads


def timed(fn, steps):
    if SAMPLE:
        with Runnable() as sampler:
            result = _timed(fn, steps)
        result["runnable"] = sampler.summary()
        return result
    return _timed(fn, steps)


def _timed(fn, steps):
    t_before = thread_cpu()
    busy0, steal0 = system_cpu()
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    busy1, steal1 = system_cpu()
    groups, busiest = cpu_by_thread(t_before, thread_cpu())
    return {"steps_per_s": steps / wall, "util": cpu / wall, "wall_s": wall, "cpu_s": cpu,
            "others_util": max(0.0, (busy1 - busy0) - (steal1 - steal0) - cpu) / wall,
            "steal_util": (steal1 - steal0) / wall,
            "threads": len(os.listdir("/proc/self/task")), "cpu_s_by_group": groups, "cpu_s_busiest": busiest}


def suite_callbacks(folder, steps):
    return [training.NaNGuard(), training.CSVLog(Path(folder) / "steps.csv", per_step=True, steps_per_epoch=steps)]


def bench(package, profile, args):
    make, batch, info = setup(package, profile, args.jit)
    steps = args.steps or DEFAULT_STEPS[package]
    spe = args.steps_per_execution
    steps = -(-steps // spe) * spe        # Keras runs every call's steps in full: whole calls only
    warmup = -(-args.warmup // spe) * spe
    data = tf.data.Dataset.from_tensors(batch).repeat()
    if not args.tf_autotune:       # as the suite's pipelines (common.pipeline.without_autotune)
        data = pipeline.without_autotune(data)
    constant = tf.nest.map_structure(tf.constant, batch)
    runs = []
    for index in range(args.models):
        keras.utils.set_random_seed(index)
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(args.precision)   # as common.training.train: only while building
        try:
            model = make()
        finally:
            keras.mixed_precision.set_global_policy(previous)
        model.steps_per_execution = args.steps_per_execution      # before fit traces its train function
        with tempfile.TemporaryDirectory() as tmp:
            def fit(n, callbacks=(), model=model):      # bound now: `del model` below
                model.fit(data, steps_per_epoch=n, epochs=1, verbose=0, shuffle=False,
                          callbacks=list(callbacks) or None)

            fit(warmup)                               # traces train_function: not timed
            for call in range(args.calls):
                cbs = suite_callbacks(tmp, steps) if args.suite_callbacks else ()
                runs.append(dict(model=index, call=call, mode="fit", **timed(lambda: fit(steps, cbs), steps)))
                print(f"{package} {profile} model {index} fit  call {call}: {runs[-1]['steps_per_s']:.3f} steps/s, "
                      f"util {runs[-1]['util']:.2f} (others {runs[-1]['others_util']:.2f}, steal {runs[-1]['steal_util']:.2f})  "
                      f"{runs[-1]['cpu_s_busiest']} {runs[-1].get('runnable', '')}", file=sys.stderr, flush=True)
            if args.loop:
                step = tf.function(model.train_step, jit_compile=bool(args.jit), reduce_retracing=True)

                def loop(n):
                    logs = None
                    for _ in range(n):
                        logs = step(constant)
                    # one read at the end, so that the last step is inside the window
                    return {k: float(v) for k, v in logs.items()}

                loop(args.warmup)
                for call in range(args.calls):
                    runs.append(dict(model=index, call=call, mode="loop", **timed(lambda: loop(steps), steps)))
                    print(f"{package} {profile} model {index} loop call {call}: {runs[-1]['steps_per_s']:.3f} steps/s, "
                          f"util {runs[-1]['util']:.2f} (others {runs[-1]['others_util']:.2f}, steal {runs[-1]['steal_util']:.2f})  "
                          f"{runs[-1]['cpu_s_busiest']} {runs[-1].get('runnable', '')}", file=sys.stderr, flush=True)
        del model
        keras.backend.clear_session()
    rows = []
    for mode in ("fit", "loop"):
        mine = [r for r in runs if r["mode"] == mode]
        if not mine:
            continue
        rate = [r["steps_per_s"] for r in mine]
        util = [r["util"] for r in mine]
        label = "paper=quick" if package in ("cgan", "infogan") else profile
        rows.append(dict(package=package, profile=label, precision=args.precision, jit=args.jit, mode=mode,
                         steps=steps, calls=len(mine), median_steps_per_s=statistics.median(rate),
                         min_steps_per_s=min(rate), max_steps_per_s=max(rate),
                         median_images_per_s=statistics.median(rate) * info["images_per_step"],
                         median_util=statistics.median(util), min_util=min(util), max_util=max(util), **info,
                         runs=mine))
    return rows


def machine():
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    except (OSError, subprocess.SubprocessError):
        pass
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not model and line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu_model": model, "logical_cpus": os.cpu_count(),
            "isa": sorted(f for f in flags if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")),
            "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")}


def markdown(info, rows, args):
    lines = [f"Machine: {info['cpu_model']}, {info['logical_cpus']} logical CPUs ({', '.join(info['isa'])}); "
             f"Python {info['python']}, TF {info['tensorflow']}, Keras {info['keras']}; "
             f"load average {info['load_before']} before, {info['load_after']} after; {info['date']}.",
             f"Precision {args.precision}{', jit_compile' if args.jit else ''}"
             f"{f', steps_per_execution {args.steps_per_execution}' if args.steps_per_execution > 1 else ''}"
             f"{', with NaNGuard + per-step CSVLog' if args.suite_callbacks else ''}"
             f"{', tf.data autotune on (TensorFlow default)' if args.tf_autotune else ', tf.data autotune off (the suite)'}; {args.models} model(s) x "
             f"{args.calls} timed call(s) each after a {args.warmup}-step warm-up call; util = process CPU s / wall s.",
             "",
             "| package | profile | widths | batch | mode | steps/call | steps/s median (min-max) | images/s median "
             "| util median (min-max) | per call: steps/s (util) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        calls = " ".join(f"{x['steps_per_s']:.3g} ({x['util']:.2f})" for x in r["runs"])
        lines.append(f"| {r['package']} | {r['profile']} | {r['widths']} | {r['batch']} | {r['mode']} | {r['steps']} "
                     f"| {r['median_steps_per_s']:.3g} ({r['min_steps_per_s']:.3g}-{r['max_steps_per_s']:.3g}) "
                     f"| {r['median_images_per_s']:.4g} | {r['median_util']:.2f} ({r['min_util']:.2f}-{r['max_util']:.2f}) "
                     f"| {calls} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("packages", nargs="*", metavar="package",
                   help=f"any of {', '.join(PACKAGES)} (default all; bagan = its adversarial step)")
    p.add_argument("--profiles", default="paper,quick", help="comma-separated train.py profiles (default paper,quick)")
    p.add_argument("--steps", type=int, default=None, help=f"timed steps per fit call (default {DEFAULT_STEPS})")
    p.add_argument("--warmup", type=int, default=3, help="steps of the untimed first fit call of each model (default 3)")
    p.add_argument("--calls", type=int, default=3, help="timed fit calls per model (default 3)")
    p.add_argument("--models", type=int, default=2, help="fresh models per package and profile (default 2)")
    p.add_argument("--loop", action="store_true", help="also time a plain tf.function loop over train_step")
    p.add_argument("--tf-autotune", action="store_true",
                   help="leave tf.data's autotuning on (TensorFlow's default; the suite turns it off): each fit "
                        "call then waits at its end for the autotune thread, up to the call's own length")
    p.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16", "mixed_float16"))
    p.add_argument("--jit", action="store_true", help="compile the train step with XLA (jit_compile=True)")
    p.add_argument("--steps-per-execution", type=int, default=1,
                   help="steps per train-function call in fit (default 1; steps are rounded up to whole calls)")
    p.add_argument("--sample-threads", action="store_true",
                   help="sample every 5 ms how many of this process's threads are runnable (parallelism)")
    p.add_argument("--suite-callbacks", action="store_true",
                   help="fit with common.training's NaNGuard and per-step CSVLog, as a real run")
    p.add_argument("--out", type=Path, help="also write the markdown table here")
    p.add_argument("--json", type=Path, help="write every call's numbers and the machine info here")
    args = p.parse_args(argv)
    global SAMPLE
    SAMPLE = args.sample_threads
    packages = list(dict.fromkeys(args.packages or PACKAGES))
    wanted = [s for s in args.profiles.split(",") if s]
    for name in packages:
        if name not in PACKAGES:
            p.error(f"unknown package {name!r}; choose from {', '.join(PACKAGES)}")
    for name in wanted:
        if name not in ("paper", "quick", "smoke"):
            p.error(f"unknown profile {name!r}")
    info = machine()
    info["load_before"] = [round(x, 2) for x in os.getloadavg()]
    info["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows, failures = [], []
    for package in packages:
        for profile in profiles_of(package, wanted):
            try:
                rows += bench(package, profile, args)
            except Exception as e:      # e.g. a precision a package does not support: report, go on
                failures.append({"package": package, "profile": profile, "error": f"{type(e).__name__}: {e}"[:500]})
                print(f"{package} {profile}: FAILED {failures[-1]['error']}", file=sys.stderr, flush=True)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    table = markdown(info, rows, args)
    if failures:
        table += "\nFailed: " + "; ".join(f"{f['package']} {f['profile']}: {f['error']}" for f in failures) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows, "failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
