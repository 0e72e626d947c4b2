"""Collect every package's headline numbers into RESULTS_DIR/summary.md and summary.csv, and into
the project's scoreboard.

    python -m common.summary RESULTS_DIR [--scoreboard docs/scoreboard.csv [--page docs/RESULTS.md]]

Reads RESULTS_DIR/<pkg>/status.json (written by run_all.sh) and every headline.json of a run or
sub-run below RESULTS_DIR/<pkg>/ (a list of {paper, metric, paper_value, value, notes[, target, seeds, command]},
written by each evaluate.py); writes one row per headline metric, and one status row for a package
without any. With --scoreboard, each headline row also replaces the scoreboard row of the same
package, claim and profile (other rows stay: the scoreboard keeps what earlier runs measured), and
--page renders the scoreboard into the page between its two scoreboard markers. The scoreboard holds
one row per package, claim and profile: of runs that measured the same one, the newest headline.json's.
"""
import math
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from common.cli import ArgumentParser, main, read_json, run_in_progress
from common.errors import UserError

COLUMNS = ["package", "paper", "metric", "paper_value", "value", "profile", "seed", "wall_time_s",
           "status", "run_dir", "notes", "target", "seeds", "command", "written"]
SCOREBOARD = ["package", "claim", "paper", "ours", "target", "met", "profile", "seeds", "command"]
KEY = ["package", "claim", "profile"]     # a scoreboard row's identity
MARKERS = ("<!-- scoreboard: written by python -m common.summary; do not edit by hand -->",
           "<!-- end of scoreboard -->")
HEADLINE = "headline.json"
PACKAGES = ("bagan", "dagan", "cgan_infogan", "began", "debias")
STATUS = "status.json"


def collect(results_dir):
    """A DataFrame with one row per headline metric (or per package without any)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UserError(f"results dir {results_dir} does not exist; run ./run_all.sh first or pass its --out")
    rows = []
    for pkg_dir in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        status_path = pkg_dir / STATUS
        status = read_json(status_path, "status file") if status_path.exists() else {}
        base = {"package": status.get("package", pkg_dir.name), "profile": status.get("profile"),
                "seed": status.get("seed"), "wall_time_s": status.get("wall_time_s"),
                "status": status.get("status", "no status.json")}
        # a run's, or a sub-run's (e.g. cgan_infogan's infogan/ with its mapping accuracy)
        headlines = sorted([*pkg_dir.glob(f"*/{HEADLINE}"), *pkg_dir.glob(f"*/*/{HEADLINE}")])
        for path in headlines:
            if any(run_in_progress(d) for d in (path.parent, path.parent.parent)):
                print(f"{path.parent}: skipped, a run is still training in it", file=sys.stderr)
                continue
            entries = read_json(path, "headline file")
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise UserError(f"{path} must hold a JSON list of {{paper, metric, paper_value, value, notes}}")
            run = {"run_dir": str(path.parent.relative_to(results_dir)),
                   "profile": _run_config(path.parent, "profile") or base["profile"],
                   "written": datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")}
            seed = _run_config(path.parent, "seed")
            package = status.get("package") or _package(path.parent, pkg_dir.name)
            for entry in entries:
                rows.append({**base, "package": package, **{k: entry.get(k) for k in ("paper", "metric", "paper_value", "value",
                                                                   "notes", "target", "seeds", "command")}, **run,
                             "seeds": _first(entry.get("seeds"), seed),
                             "command": _commands(path.parent, entry.get("command"))})
        if not headlines and (status or any(pkg_dir.iterdir())):
            rows.append({**base, "run_dir": None})
    return pd.DataFrame(rows, columns=COLUMNS)


def _first(*values):
    """The first value that is neither None nor NaN (pandas reads a missing cell as NaN)."""
    return next((v for v in values if v is not None and v == v), None)


def _seeds(value):
    """Seeds as the scoreboard writes them: 0, not the 0.0 of a pandas column with gaps; None when unknown."""
    value = _first(value)
    if value is None:
        return None
    return str(int(value) if isinstance(value, float) and value.is_integer() else value)


def _package(run_dir, default):
    """The package whose command made a run (its config.json, or its parent's for a sub-run), so that
    a run trained into any --out folder is scored under its package; else the results folder's name."""
    for config in (run_dir / "config.json", run_dir.parent / "config.json"):
        if config.exists():
            found = re.match(r"python3?\s+(?:-m\s+)?(\w+)[./]", read_json(config, "run configuration").get("command") or "")
            if found and found.group(1) in PACKAGES:
                return found.group(1)
    return default


def _run_config(run_dir, key):
    """A setting the run was trained with, e.g. its profile or seed (its config.json, or its parent's
    for a sub-run)."""
    paths = [folder / "config.json" for folder in (run_dir, run_dir.parent)]
    return _first(*(read_json(p, "run configuration").get("config", {}).get(key) for p in paths if p.exists()))


def _commands(run_dir, evaluate):
    """The run's training command (its config.json) then the evaluation's, as one line."""
    config = run_dir / "config.json"
    train = read_json(config, "run configuration").get("command") if config.exists() else None
    return " && ".join(dict.fromkeys(c for c in (train, evaluate) if c)) or None   # once if training wrote it


def met(ours, target):
    """Whether `ours` meets a target written as '>= 0.95', '<= 0.40', '> 0' or '< 1'; None when
    there is no numeric target or value."""
    import re
    found = re.fullmatch(r"\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*", str(target or ""))
    try:
        ours = float(ours)
    except (TypeError, ValueError):
        return None
    if not found or math.isnan(ours):
        return None
    op, bound = found.group(1), float(found.group(2))
    return {">=": ours >= bound, "<=": ours <= bound, ">": ours > bound, "<": ours < bound}[op]


def scoreboard_rows(table, kept=None):
    """The scoreboard's rows of `table`'s headline metrics: seeds the headline's, else the run's
    config.json's, else status.json's. Of rows with the same KEY and seeds the newest headline.json's,
    with a line for each other one that measured something else (identical ones are dropped quietly);
    runs of one claim at single, different seeds become one row: their mean, the seeds listed, each
    run's command. `kept` (earlier scoreboard rows) adds its single-seed rows of a claim re-measured
    at other single seeds to that mean, so seeds measured on other machines still count."""
    rows = table[table["metric"].notna()].sort_values("written", kind="stable")
    board = pd.DataFrame({
        "package": rows["package"], "claim": rows["metric"], "paper": rows["paper_value"],
        "ours": rows["value"], "target": rows["target"],
        "met": [met(o, t) for o, t in zip(rows["value"], rows["target"])], "profile": rows["profile"],
        "seeds": [_seeds(_first(s, seed)) for s, seed in zip(rows["seeds"], rows["seed"])],
        "command": rows["command"]}, columns=SCOREBOARD)
    board = _newest(board, rows, KEY + ["seeds"])
    if kept is not None and len(board):
        board = _with_kept(kept, board)
    pooled = []
    for _, group in board.groupby(KEY, sort=False, dropna=False):
        seeds = group["seeds"].tolist()
        if len(group) > 1 and all(isinstance(x, str) and x.isdigit() for x in seeds):
            group = group.iloc[sorted(range(len(group)), key=lambda i: int(seeds[i]))]
            row = group.iloc[-1].copy()
            row["ours"] = pd.to_numeric(group["ours"], errors="coerce").mean()
            row["met"], row["seeds"] = met(row["ours"], row["target"]), ",".join(group["seeds"])
            row["command"] = " ; ".join(dict.fromkeys(c for c in group["command"] if isinstance(c, str)))
            pooled.append(row.to_frame().T)
        else:
            pooled.append(group)
    return _newest(pd.concat(pooled), rows, KEY) if pooled else board


def _with_kept(kept, board):
    """`board` (rows of one seed each) with `kept`'s rows of a claim that `board` re-measured only at
    single seeds: a kept row of another single seed joins the mean; a kept mean that already counts
    these runs (more seeds, each run's command among its commands) stands, and their rows leave
    `board`. Kept rows are indexed apart from `board`'s, which _newest looks up in the table."""
    single = lambda seeds: all(isinstance(x, str) and x.isdigit() for x in seeds)
    kept = kept.assign(seeds=kept["seeds"].map(_seeds))
    keys = lambda frame: [tuple(k) for k in frame[KEY].astype(str).to_numpy()]
    joins, counted = [], set()
    for key, group in board.assign(_key=keys(board)).groupby("_key", sort=False):
        if not single(group["seeds"]):
            continue
        for i, row in kept[[k == key for k in keys(kept)]].iterrows():
            seeds = str(row["seeds"]).split(",")
            if single(seeds) and len(seeds) == 1 and seeds[0] not in set(group["seeds"]):
                joins.append(i)
            elif (single(seeds) and set(group["seeds"]) < set(seeds)
                  and all(isinstance(c, str) and c in str(row["command"]) for c in group["command"])):
                counted.add(key)
                print(f"scoreboard: {key[1]!r} keeps its mean over seeds {row['seeds']}, which counts "
                      f"the runs of seeds {','.join(group['seeds'])}")
    pool = kept.loc[joins, SCOREBOARD]
    board = board[[k not in counted for k in keys(board)]]
    return pd.concat([pool.set_axis([f"kept {i}" for i in range(len(pool))]), board])


def _newest(board, rows, key):
    """Of `board`'s rows with the same `key` the last (the newest), with a line for each dropped one
    that measured something else; identical ones go quietly."""
    keys = pd.Series(list(map(tuple, board[key].astype(str).to_numpy())), index=board.index)
    newest = keys.duplicated(keep="last")
    last = dict(zip(keys[~newest], board.index[~newest]))
    where = lambda i: rows.at[i, "run_dir"] if i in rows.index else "the scoreboard"
    for old in board.index[newest]:
        new = last[keys[old]]
        if not all(board.at[old, c] == board.at[new, c] or (pd.isna(board.at[old, c]) and pd.isna(board.at[new, c]))
                   for c in ("ours", "command")):
            print(f"scoreboard: {board.at[new, 'claim']!r} from {where(new)} replaces {where(old)}")
    return board[~newest]


def update_scoreboard(path, table):
    """Replace the rows of `path` that the runs in `table` measured again (pooling single seeds);
    keep the others."""
    path = Path(path)
    old = None
    if path.exists():
        old = pd.read_csv(path, dtype={"seeds": str})   # "0", "0,1,2": not read as numbers
        if list(old.columns) != SCOREBOARD:
            raise UserError(f"{path} is not a scoreboard (columns {', '.join(SCOREBOARD)})")
    new = scoreboard_rows(table, kept=old)
    if old is not None:
        fresh = set(map(tuple, new[KEY].astype(str).to_numpy()))
        old = old[[tuple(r) not in fresh for r in old[KEY].astype(str).to_numpy()]]
        new = pd.concat([old, new], ignore_index=True) if len(old) else new
    new = new.sort_values(["package", "claim"], kind="stable")
    path.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(path, index=False)
    return new


def render_page(scoreboard, page):
    """Put the scoreboard's table into `page` between MARKERS (added at the top when missing)."""
    board = pd.read_csv(scoreboard)
    board["met"] = board["met"].map({True: "yes", False: "**no**"}).fillna("")
    block = f"{MARKERS[0]}\n{to_markdown(board)}{MARKERS[1]}"
    page = Path(page)
    text = page.read_text() if page.exists() else "# Measured results\n"
    if MARKERS[0] in text and MARKERS[1] in text:
        head, rest = text.split(MARKERS[0], 1)
        text = head + block + rest.split(MARKERS[1], 1)[1]
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{block}\n{body}"
    page.write_text(text)


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
    parser.add_argument("--scoreboard", default=None, help="also update this scoreboard CSV (docs/scoreboard.csv)")
    parser.add_argument("--page", default=None, help="and render it into this page (docs/RESULTS.md)")
    args = parser.parse_args(argv)
    if args.page and not args.scoreboard:
        parser.error("--page needs --scoreboard")
    table = write_summary(args.results_dir)
    print(f"{len(table)} rows -> {Path(args.results_dir) / 'summary.md'} and summary.csv")
    if args.scoreboard:
        board = update_scoreboard(args.scoreboard, table)
        print(f"{len(board)} rows -> {args.scoreboard}")
        if args.page:
            render_page(args.scoreboard, args.page)
            print(f"scoreboard rendered into {args.page}")


if __name__ == "__main__":
    cli()
