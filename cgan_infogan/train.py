"""Train the CGAN and/or the InfoGAN on MNIST (the original trains both on all 60k training images)
or on a folder of class folders.

    python -m cgan_infogan.train [--model cgan|infogan|both] --profile quick --data-dir D --out results/cgan_infogan
    python -m cgan_infogan.train --dataset path/to/folder --image-size 32 --out results/cgan_infogan

A folder's classes are the CGAN's labels and the InfoGAN's categories (one per class; the InfoGAN
still learns them without labels); its images keep their size and colour unless --image-size is given.

One run directory OUT/NAME holds one sub-directory per model (cgan/, infogan/), each a resumable
common.training run (checkpoints, losses.csv/png, samples/); OUT/NAME/throughput.json holds each model's
training throughput (common.throughput); evaluate.py reads both.
"""

from common import cli
from cgan_infogan import run

main = cli.main(run.train)

if __name__ == "__main__":
    main()
