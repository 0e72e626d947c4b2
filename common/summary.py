"""Collect every package's headline numbers into RESULTS_DIR/summary.md and summary.csv.

    python -m common.summary RESULTS_DIR

Reads RESULTS_DIR/<pkg>/status.json (written by run_all.sh) and every
RESULTS_DIR/<pkg>/<run>/headline.json (a list of {paper, metric, paper_value, value, notes}); writes
one row per headline metric, and one status row for a package without any.
"""
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from common.cli import ArgumentParser, main  # noqa: E402
from common.errors import UserError  # noqa: E402

COLUMNS = ["package", "paper", "metric", "paper_value", "value", "profile", "seed", "wall_time_s",
           "status", "run_dir", "notes"]
HEADLINE = "headline.json"
STATUS = "status.json"


def _read_json(path, kind):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {kind} {path}: {e}") from None


def collect(results_dir):
    """A DataFrame with one row per headline metric (or per package without any)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"results dir {results_dir} does not exist; run ./run_all.sh first or pass its --out")
    rows = []
    for pkg_dir in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        status_path = pkg_dir / STATUS
        status = _read_json(status_path, "status file") if status_path.exists() else {}
        base = {"package": status.get("package", pkg_dir.name), "profile": status.get("profile"),
                "seed": status.get("seed"), "wall_time_s": status.get("wall_time_s"),
                "status": status.get("status", "no status.json")}
        headlines = sorted(pkg_dir.glob(f"*/{HEADLINE}"))
        for path in headlines:
            entries = _read_json(path, "headline file")
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise UserError(f"{path} must hold a JSON list of {{paper, metric, paper_value, value, notes}}")
            for entry in entries:
                rows.append({**base, **{k: entry.get(k) for k in ("paper", "metric", "paper_value", "value",
                                                                   "notes")},
                             "run_dir": str(path.parent.relative_to(results_dir))})
        if not headlines and (status or any(pkg_dir.iterdir())):
            rows.append({**base, "run_dir": None})
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(table):
    """A GitHub markdown table (pandas' own needs the optional `tabulate`)."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_summary(results_dir):
    """Write summary.csv and summary.md in results_dir; returns the table."""
    table = collect(results_dir)
    results_dir = Path(results_dir)
    table.to_csv(results_dir / "summary.csv", index=False)
    (results_dir / "summary.md").write_text(
        f"# Results summary\n\nCollected from {results_dir} by `python -m common.summary`.\n\n"
        + to_markdown(table))
    return table


@main
def cli(argv=None):
    parser = ArgumentParser(prog="python -m common.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", help="the results folder run_all.sh wrote (one sub-folder per package)")
    args = parser.parse_args(argv)
    table = write_summary(args.results_dir)
    print(f"{len(table)} rows -> {Path(args.results_dir) / 'summary.md'} and summary.csv")


if __name__ == "__main__":
    cli()
