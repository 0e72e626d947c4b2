"""Train DAGAN on Omniglot or a folder of class folders.

    python -m dagan.train --profile quick --data-dir ../shared/data --out results/dagan
    python -m dagan.train --dataset path/to/classes --image-size 32x48 --out results/dagan

Training classes are the first --num-training-classes (Omniglot: 1200, as dagan_torch), the next
--num-val-classes (200) are unseen classes whose sources fill the sample grids; the rest are held out
(the few-shot evaluation uses 1420-1519). Writes RUN_DIR/config.json, checkpoints/, losses.csv,
steps.csv, samples/epoch_NNNN.png (rows: a source image, then generations from it), generator.keras
and throughput.json (training throughput, common.throughput). Running the same command again resumes.
"""

from common import cli
from dagan import run

main = cli.main(run.train)

if __name__ == "__main__":
    main()
