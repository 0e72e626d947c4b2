"""Train BAGAN (or BAGAN-GP) on an imbalanced dataset, as IBM/BAGAN's `bagan_train.py`.

    python bagan/train.py --unbalance 0.05 --target-class 0          # MNIST, class 0 keeps 5 %
    python bagan/train.py -D GTSRB --keep-imbalance                  # GTSRB's own imbalance
    python bagan/train.py -D path/to/folder --image-size 32 --keep-imbalance

Results go to OUT/res_{dataset}_dmode_{d}_gmode_{g}_unbalance_{u}_epochs_{E}_lr_{lr:f}_seed_{s}/ with
the original's outputs in Keras 3 form (see bagan/README.md); a run started again resumes from its
latest checkpoint in class_{c}/autoencoder/ and class_{c}/gan/.
"""


from common import cli
from bagan import run
from bagan.profiles import DATASET_PROFILES, PROFILES


@cli.main
def main(argv=None):
    return run.train(cli.parse_args(run.parser(), argv, PROFILES, DATASET_PROFILES))


if __name__ == "__main__":
    main()
