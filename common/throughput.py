"""Training throughput records: one file, one key set, for every package.

RUN_DIR/throughput.json = {phase: {seconds, steps, batch_size, images_per_step, images_per_s,
steps_per_s, epochs_timed, epochs_done, note}}, one entry per training phase of the run ("gan";
BAGAN's "<class>_autoencoder" and "<class>_gan"; CGAN/InfoGAN's "cgan" and "infogan"). Each entry
is the latest invocation that trained that phase: `seconds` is its wall time (whatever the note says
it includes), `steps` the training steps it ran (epochs resumed from a checkpoint excluded), and
`images_per_s` = steps x images_per_step / seconds.

`read` also converts the files runs wrote before (convert on read, nothing is rewritten):
bagan's timing.json, began's and dagan's timing_epochs_NNNN-NNNN.json and cgan_infogan's
<model>/throughput.json.
"""
import json
import re
from pathlib import Path

from common.cli import write_json_atomic

THROUGHPUT_JSON = "throughput.json"
KEYS = ("seconds", "steps", "batch_size", "images_per_step", "images_per_s", "steps_per_s",
        "epochs_timed", "epochs_done", "note")


def entry(seconds, steps, batch_size, epochs_done, epochs_timed, note, images_per_step=None):
    """One phase's record; images_per_step defaults to batch_size (DAGAN's iteration consumes
    batch x (critic steps + 1) pairs)."""
    images_per_step = batch_size if images_per_step is None else images_per_step
    seconds = float(seconds)
    return {"seconds": round(seconds, 1), "steps": int(steps), "batch_size": int(batch_size),
            "images_per_step": int(images_per_step),
            "images_per_s": round(steps * images_per_step / seconds, 2) if seconds > 0 else None,
            "steps_per_s": round(steps / seconds, 3) if seconds > 0 else None,
            "epochs_timed": int(epochs_timed), "epochs_done": int(epochs_done), "note": note}


def record(run_dir, phase, seconds, steps, batch_size, epochs_done, epochs_timed, note,
           images_per_step=None):
    """Write (or replace) `phase`'s entry in RUN_DIR/throughput.json; the other phases are kept.
    Returns the entry."""
    path = Path(run_dir) / THROUGHPUT_JSON
    records = _read_json(path) if path.exists() else {}
    records[phase] = entry(seconds, steps, batch_size, epochs_done, epochs_timed, note, images_per_step)
    write_json_atomic(path, records)
    return records[phase]


def read(run_dir):
    """{phase: entry} of a run dir, from throughput.json and from the older files (a phase in
    throughput.json wins over the same phase in an older file). {} when the run has none."""
    run_dir = Path(run_dir)
    found = {}
    config = _config(run_dir)
    if (run_dir / "timing.json").exists():
        found.update(_from_bagan(_read_json(run_dir / "timing.json"), config))
    found.update(_from_timing_epochs(run_dir, config))
    for model in ("cgan", "infogan"):
        old = run_dir / model / THROUGHPUT_JSON
        if old.exists():
            found[model] = _from_cgan_infogan(_read_json(old), run_dir / model)
    path = run_dir / THROUGHPUT_JSON
    if path.exists():
        found.update(_read_json(path))
    return found


# -- older formats -----------------------------------------------------------------------------------
def _read_json(path):
    from common.cli import read_json
    return read_json(path, "throughput record")


def _config(run_dir):
    """The run's configuration in current names (config.json's "config"; a flat one from before),
    for the batch size and critic steps the older files left out; {} when unreadable."""
    from common.cli import CONFIG_FILE, current_names
    try:
        record = json.loads((run_dir / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return current_names(record["config"] if isinstance(record.get("config"), dict) else record)


def _complete(rec, batch_size, images_per_step):
    """Fill steps/steps_per_s from images_per_s when the batch is known."""
    rec.setdefault("batch_size", batch_size)
    rec.setdefault("images_per_step", images_per_step if images_per_step is not None else batch_size)
    ips, per_step, seconds = rec.get("images_per_s"), rec.get("images_per_step"), rec.get("seconds")
    if rec.get("steps_per_s") is None and ips is not None and per_step:
        rec["steps_per_s"] = round(ips / per_step, 3)
    if rec.get("steps") is None and rec.get("steps_per_s") is not None and seconds:
        rec["steps"] = round(rec["steps_per_s"] * seconds)
    return {k: rec.get(k) for k in KEYS}


def _from_bagan(timing, config):
    """bagan/run.py's timing.json: {"<class>_<phase>": {epochs_done, epochs_timed, seconds,
    images_per_s, note}}."""
    return {phase: _complete(dict(rec), config.get("batch_size"), None) for phase, rec in timing.items()}


def _from_timing_epochs(run_dir, config):
    """began's and dagan's timing_epochs_FIRST-LAST.json, one per invocation: the latest is "gan",
    earlier ones "gan_epochs_FIRST-LAST"."""
    files = []
    for path in run_dir.glob("timing_epochs_*.json"):
        m = re.fullmatch(r"timing_epochs_(\d+)-(\d+)\.json", path.name)
        if m:
            files.append((int(m[2]), int(m[1]), path))
    found = {}
    batch = config.get("batch_size")
    for i, (last, first, path) in enumerate(sorted(files)):
        old = _read_json(path)
        rec = {"seconds": old.get("seconds"), "images_per_s": old.get("images_per_second"),
               "epochs_timed": old.get("epochs"), "epochs_done": last, "note": old.get("note")}
        if "iterations" in old:           # dagan: an iteration consumes batch x (critic steps + 1) pairs
            rec["steps"], rec["steps_per_s"] = old["iterations"], old.get("iterations_per_second")
            critic = config.get("critic_steps")
            per_step = batch * (critic + 1) if batch and critic is not None else None
            if per_step is None and rec["steps_per_s"] and rec["images_per_s"]:
                per_step = round(rec["images_per_s"] / rec["steps_per_s"])
            rec["images_per_step"] = per_step
        elif "images" in old and batch:    # began
            rec["steps"] = old["images"] // batch
        found["gan" if i == len(files) - 1 else f"gan_epochs_{first:04d}-{last:04d}"] = _complete(rec, batch, None)
    return found


def _from_cgan_infogan(old, sub_dir):
    """cgan_infogan's <run>/<model>/throughput.json: {images_per_s, epochs, steps, batch_size,
    wall_s, note}."""
    from common.cli import epochs_done
    rec = {"seconds": round(old["wall_s"], 1) if old.get("wall_s") is not None else None,
           "steps": old.get("steps"),
           "images_per_s": round(old["images_per_s"], 2) if old.get("images_per_s") is not None else None,
           "epochs_timed": old.get("epochs"), "epochs_done": epochs_done(sub_dir) or old.get("epochs"),
           "note": old.get("note")}
    return _complete(rec, old.get("batch_size"), None)
