"""Train DAGAN on Omniglot or a folder of class folders.

    python -m dagan.train --profile quick --data-dir ../shared/data --out results/dagan
    python -m dagan.train --dataset path/to/classes --image-size 32x48 --out results/dagan

Training classes are the first --num-training-classes (Omniglot: 1200, as dagan_torch), the next
--num-val-classes (200) are unseen classes whose sources fill the sample grids; the rest are held out
(the few-shot evaluation uses 1420-1519). Writes RUN_DIR/config.json, checkpoints/, losses.csv,
steps.csv, samples/epoch_NNNN.png (rows: a source image, then generations from it), generator.keras
and timing_*.json (throughput). Running the same command again resumes.
"""
import sys
from pathlib import Path

if __package__ in (None, ""):   # `python dagan/train.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import cli  # noqa: E402
from dagan import run  # noqa: E402

main = cli.main(run.train)

if __name__ == "__main__":
    main()
