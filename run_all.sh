#!/usr/bin/env bash
# One command for everything. First use creates .venv from requirements.txt.
#   ./run_all.sh [--profile smoke|quick|paper] [--only bagan,dagan,...] [--data-dir DIR]
#       every package: train, then evaluate each run, under one profile; then results/summary.md
#   ./run_all.sh test [pytest args]
#       the whole test suite (offline, CPU)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
PACKAGES=(bagan dagan cgan_infogan began debias)

bootstrap() {
    local stamp="$ROOT/.venv/.installed"
    if [ ! -x "$PY" ] || [ ! -f "$stamp" ] || [ "$ROOT/requirements.txt" -nt "$stamp" ]; then
        echo "Setting up .venv from requirements.txt (first run: a minute or two)..."
        [ -x "$PY" ] || python3 -m venv "$ROOT/.venv"
        "$PY" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
        if ! "$PY" -m pip install -q -r "$ROOT/requirements.txt" > "$ROOT/.venv/install.log" 2>&1; then
            grep -v "^WARNING: Location" "$ROOT/.venv/install.log" | tail -20
            echo "run_all.sh: error: installing requirements.txt failed (log: .venv/install.log)" >&2
            exit 2
        fi
        touch "$stamp"
    fi
}

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

if [ "${1:-}" = "test" ]; then
    shift
    bootstrap
    export TF_CPP_MIN_LOG_LEVEL=2
    exec "$PY" -m pytest "$@"
fi

PROFILE=quick
ONLY=""
DATA_DIR="${GAN_DATA_DIR:-$ROOT/data}"
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
        --only) ONLY="${2:?--only needs a value}"; shift 2 ;;
        --data-dir) DATA_DIR="${2:?--data-dir needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run_all.sh: error: unknown option $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
    esac
done
case "$PROFILE" in smoke|quick|paper) ;; *)
    echo "run_all.sh: error: --profile must be smoke, quick or paper, not '$PROFILE'" >&2; exit 2 ;;
esac
SELECTED=("${PACKAGES[@]}")
if [ -n "$ONLY" ]; then
    IFS=',' read -r -a SELECTED <<< "$ONLY"
    for p in "${SELECTED[@]}"; do
        [[ " ${PACKAGES[*]} " == *" $p "* ]] || { echo "run_all.sh: error: unknown package '$p' (choose from ${PACKAGES[*]})" >&2; exit 2; }
    done
fi

bootstrap
export TF_CPP_MIN_LOG_LEVEL=2
RESULTS="$ROOT/results"
mkdir -p "$RESULTS"
SEED=0
failed=0
started=$(date +%s)
status() {  # package status wall_time
    printf '{"package": "%s", "status": "%s", "wall_time_s": %s, "profile": "%s", "seed": %s}\n' \
        "$1" "$2" "$3" "$PROFILE" "$SEED" > "$RESULTS/$1/status.json"
}
for pkg in "${SELECTED[@]}"; do
    mkdir -p "$RESULTS/$pkg"
    echo "== $pkg: train + evaluate, profile $PROFILE, data $DATA_DIR"
    start=$(date +%s)
    ok=ok
    if "$PY" -m "$pkg.train" --profile "$PROFILE" --data-dir "$DATA_DIR" --out "$RESULTS/$pkg" --seed "$SEED"; then
        for run in "$RESULTS/$pkg"/*/; do
            [ -f "$run/config.json" ] || continue
            "$PY" -m "$pkg.evaluate" "$run" --profile "$PROFILE" --data-dir "$DATA_DIR" || ok=failed
        done
    else
        ok=failed
    fi
    status "$pkg" "$ok" $(( $(date +%s) - start ))
    echo "== $pkg: $ok in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
    [ "$ok" = ok ] || failed=1
done
"$PY" -m common.summary "$RESULTS"
echo "== all: $(( ($(date +%s) - started) / 60 )) min (profile $PROFILE)"
exit $failed
