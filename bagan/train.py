"""Train BAGAN (or BAGAN-GP) on an imbalanced dataset, as IBM/BAGAN's `bagan_train.py`.

    python bagan/train.py --unbalance 0.05 --target-class 0          # MNIST, class 0 keeps 5 %
    python bagan/train.py -D GTSRB --keep-imbalance                  # GTSRB's own imbalance
    python bagan/train.py -D path/to/folder --image-size 32 --keep-imbalance

Results go to OUT/res_{dataset}_dmode_{d}_gmode_{g}_unbalance_{u}_epochs_{E}_lr_{lr:f}_seed_{s}/ with
the original's outputs in Keras 3 form (see bagan/README.md); a run started again resumes from its
latest checkpoint in class_{c}/autoencoder/ and class_{c}/gan/.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):   # `python bagan/train.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bagan import run  # noqa: E402
from bagan.profiles import PROFILES  # noqa: E402
from common import cli  # noqa: E402


@cli.main
def main(argv=None):
    return run.train(cli.parse_args(run.parser(), argv, PROFILES))


if __name__ == "__main__":
    main()
