"""The suite's training steps against the PyTorch originals', measured side by side (issue #22).

    python scripts/side_by_side.py --peer PEER.json [PEER.json ...] --suite SUITE.json [SUITE.json ...] \
        --out results/throughput [--markdown table.md]

PEER.json: written by ../shared/bench's harnesses (peer_kalpak_cgan_infogan.py, peer_dagan_torch.py);
SUITE.json: written by scripts/bench_steps.py, in the same sitting on the same, otherwise idle machine.
For each model that both measured (CGAN, InfoGAN, DAGAN at the paper's widths) and each precision the
suite ran at (float32 is the like-for-like claim: the originals run in float32), the ratio of the
suite's median `fit` rate to the original's median rate (a step = one generator step with its critic
steps: CGAN/InfoGAN 1 D + 1 G, DAGAN 5 critic + 1 G, batches as the originals'). Writes
OUT/<date>/headline.json, which `python -m common.summary results` turns into scoreboard rows (target:
the suite at least 1.5x its original), and the table on stdout (and --markdown).
"""
import json
import statistics
from pathlib import Path

from common import cli

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
PEERS = {"cgan": "kalpak92 CGAN", "infogan": "kalpak92 InfoGAN", "dagan": "dagan_torch"}
TARGET = ">= 1.5"
COMMAND = "TORCH_PY=<venv>/bin/python PEERS=<originals> bash scripts/side_by_side.sh"


def peer_rates(paths):
    """{model: (median G steps/s, [runs], meta)} over the harnesses' JSON files (several sittings of one
    model: all their runs pooled)."""
    runs, meta = {}, {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        # kalpak92's harness writes {"meta", "results": {model: {"runs"}}}; dagan_torch's one model flat
        results = data["results"] if "results" in data else {data["model"].split()[0]: data}
        for name, result in results.items():
            model = name.lower()
            runs.setdefault(model, []).extend(r["gen_steps_per_s"] for r in result["runs"])
            meta[model] = data.get("meta", data)
    return {m: (statistics.median(r), r, meta[m]) for m, r in runs.items()}


def suite_rates(paths):
    """{(model, precision): (median steps/s of its fit calls, [calls], machine)} at the paper profile."""
    runs, machine = {}, {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        for row in data["rows"]:
            if row["mode"] != "fit" or not row["profile"].startswith("paper"):
                continue
            key = (row["package"], row["precision"])
            runs.setdefault(key, []).extend(r["steps_per_s"] for r in row["runs"])
            machine[key] = data["machine"]
    return {k: (statistics.median(r), r, machine[k]) for k, r in runs.items()}


def main(argv=None):
    p = cli.ArgumentParser(prog="scripts/side_by_side.py", description=__doc__.split("\n")[0])
    p.add_argument("--peer", nargs="+", required=True, type=Path)
    p.add_argument("--suite", nargs="+", required=True, type=Path)
    p.add_argument("--out", type=Path, required=True, help="results folder; rows go to OUT/<date>/headline.json")
    p.add_argument("--markdown", type=Path)
    args = p.parse_args(argv)
    for path in args.peer + args.suite:
        if not path.is_file():
            p.error(f"{path} does not exist")
    peers, suite = peer_rates(args.peer), suite_rates(args.suite)
    both = [(m, prec) for m in PEERS for prec in PRECISIONS if m in peers and (m, prec) in suite]
    if not both:
        p.error("no model was measured by both the peers' and the suite's files")
    machine = suite[both[0]][2]
    date = machine["date"][:10]
    lines = [(f"{machine['cpu_model']} ({machine['logical_cpus']} logical CPUs), TF {machine['tensorflow']} / "
             f"Keras {machine['keras']}, torch {peers[both[0][0]][2]['torch']}; {machine['date']}."), "",
             "| model | original (PyTorch, float32), G steps/s: median (runs) | suite `fit` precision "
             "| suite, G steps/s: median (calls) | ratio |", "|---|---|---|---|---|"]
    rows = []
    for m, prec in both:
        (pm, pr, _), (sm, sr, _) = peers[m], suite[m, prec]
        ratio = sm / pm
        lines.append(f"| {PEERS[m]} | {pm:.4g} ({' / '.join(f'{r:.3g}' for r in pr)}) | {prec} "
                     f"| {sm:.4g} ({' / '.join(f'{r:.3g}' for r in sr)}) | {ratio:.2f} |")
        # float32 is the like-for-like claim; a lower precision is its own row, named in the claim
        suffix = "" if prec == "float32" else f" (suite --precision {prec})"
        rows.append({"paper": "throughput", "paper_value": 1.0, "value": round(ratio, 3), "target": TARGET,
                     "metric": f"{m} training steps/s, suite / PyTorch original ({PEERS[m]}), side by side{suffix}",
                     "seeds": "", "notes": f"original {pm:.4g}, suite {sm:.4g} G steps/s (medians); "
                                           f"{machine['cpu_model']}, {machine['date']}"})
    folder = args.out / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "headline.json").write_text(json.dumps(rows, indent=1) + "\n")
    # a run directory's two files for common.summary: the profile (the originals' widths) and command
    precisions = list(dict.fromkeys(prec for _, prec in both))
    command = COMMAND if precisions == ["float32"] else f'PRECISIONS="{" ".join(precisions)}" {COMMAND}'
    (folder / "config.json").write_text(json.dumps({"config": {"profile": "paper"}, "command": command}) + "\n")
    table = "\n".join(lines) + "\n"
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
