#!/usr/bin/env bash
# The suite against the PyTorch originals, one after the other in one sitting on an idle machine.
#   TORCH_PY=<venv with torch==2.13.0>/bin/python PEERS=<folder> bash scripts/side_by_side.sh [WORK_DIR]
# PEERS holds dagan_torch/ (amurthy1/dagan_torch) and kalpak/ (kalpak92/Data-Augmentation-using-CGAN-
# and-InfoGAN): how to export them is in ../shared/bench/README.md. About 30 min on a 2-core CPU.
# Rows for the scoreboard go to results/throughput/<date>/headline.json (python -m common.summary).
# PRECISIONS="float32 mixed_bfloat16" also times the suite in bf16 (own rows; the originals stay float32).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TORCH_PY:?set TORCH_PY to a python with torch}" "${PEERS:?set PEERS to the folder of the originals}"
BENCH=${BENCH:-../shared/bench}
W=${1:-scratch/bench}
mkdir -p "$W"
export PYTHONPATH=$PWD TF_CPP_MIN_LOG_LEVEL=2
PY=${PY:-.venv/bin/python}
PRECISIONS=${PRECISIONS:-float32}
log() { echo "$(date -u '+%F %T') load $(cut -d' ' -f1-3 /proc/loadavg): $*"; }
log "originals: CGAN, InfoGAN"
"$TORCH_PY" "$BENCH/peer_kalpak_cgan_infogan.py" "$PEERS/kalpak" --model both --json "$W/peer_kalpak_1.json"
log "suite: CGAN, InfoGAN"
for prec in $PRECISIONS; do
    "$PY" scripts/bench_steps.py cgan infogan --steps 100 --calls 3 --models 2 --precision "$prec" \
        --json "$W/suite_cgan_infogan_$prec.json"
done
log "original: DAGAN"
"$TORCH_PY" "$BENCH/peer_dagan_torch.py" "$PEERS/dagan_torch" --steps 10 --repeats 2 --json "$W/peer_dagan.json"
log "suite: DAGAN"
for prec in $PRECISIONS; do
    "$PY" scripts/bench_steps.py dagan --profiles paper,quick --steps 5 --calls 2 --models 2 --precision "$prec" \
        --json "$W/suite_dagan_$prec.json"
done
log "original: CGAN again (drift check)"
"$TORCH_PY" "$BENCH/peer_kalpak_cgan_infogan.py" "$PEERS/kalpak" --model cgan --json "$W/peer_kalpak_2.json"
log "done"
"$PY" scripts/side_by_side.py --peer "$W"/peer_*.json --suite "$W"/suite_*.json \
    --out results/throughput --markdown "$W/side_by_side.md"
