"""Check that a dataset is found and read as expected: `python -m common.datasets mnist --split test`.

Prints the image shape and per-class counts (and writes a preview grid with --preview PNG)."""
import numpy as np

from common import cli, datasets, plots


def parser():
    p = cli.ArgumentParser(prog="python -m common.datasets", description=__doc__)
    p.add_argument("name", help="mnist, cifar10, omniglot, gtsrb, celeba, or a folder of class folders")
    p.add_argument("--split", default="train")
    p.add_argument("--data-dir", default=None, help="dataset root (default: $GAN_DATA_DIR, else ./data)")
    p.add_argument("--image-size", type=cli.bounded(int, 8, 1024), default=None,
                   help="resize to SIZE x SIZE (gtsrb, celeba, folders)")
    p.add_argument("--preview", default=None, help="write a grid of the first images of each class (PNG)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --preview file")
    return p


@cli.main
def main(argv=None):
    args = parser().parse_args(argv)
    if args.preview:
        cli.new_output(args.preview, args.overwrite, "--preview")
    options = {"size": args.image_size} if args.image_size else {}
    data = datasets.load(args.name, args.split, datasets.data_dir(args.data_dir), **options)
    counts = np.bincount(data.labels)
    print(f"{args.name} [{args.split}]: {len(data)} images of {data.images.shape[1:]} uint8, "
          f"{len(counts)} classes, {counts.min()} to {counts.max()} per class (median {int(np.median(counts))})")
    if data.attribute_names:
        print(f"attributes: {len(data.attribute_names)} ({', '.join(data.attribute_names[:5])}, ...)")
    if args.preview:
        classes = np.flatnonzero(counts)[:10]
        rows = [data.images[np.flatnonzero(data.labels == c)[:8]] for c in classes]
        per = min(len(r) for r in rows)
        plots.image_grid(np.stack([r[:per] for r in rows]), args.preview,
                         row_labels=[data.class_names[c] if data.class_names else c for c in classes])
        print(f"preview: {args.preview}")


if __name__ == "__main__":
    main()
