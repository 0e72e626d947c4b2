"""Pictures a user looks at: image grids with row/column labels, loss curves, confusion matrices."""
from pathlib import Path

import numpy as np
import pandas as pd
# Figures made without pyplot: no GUI backend is chosen and no figure stays registered after saving.
from matplotlib.figure import Figure


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", bbox_inches="tight", dpi=100)
    tmp.replace(path)
    return path


def image_grid(images, path, row_labels=None, col_labels=None, title=None):
    """images: (rows, cols, H, W, C), uint8 or float in [-1, 1]; a list of rows also works."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.rint((images.astype(np.float32) + 1) * 127.5), 0, 255).astype(np.uint8)
    rows, cols = images.shape[:2]
    h, w = images.shape[2:4]
    scale = max(0.6, 48 / max(h, w))
    height = rows * h * scale / 40 + 0.5
    fig = Figure(figsize=(cols * w * scale / 40 + 1, height))
    axes = fig.subplots(rows, cols, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            img = images[r, c]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0 and row_labels is not None:
                ax.set_ylabel(str(row_labels[r]), rotation=0, ha="right", va="center")
            if r == 0 and col_labels is not None:
                ax.set_title(str(col_labels[c]), fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.08 / height, va="top")
    # the grid starts just below the title and column labels (matplotlib's default top, 0.88, left
    # a blank band of 12 % of a tall grid's height under the title)
    top_inches = 0.1 + 0.4 * bool(title) + 0.3 * (col_labels is not None)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, top=1 - top_inches / height)
    return _save(fig, path)


def read_log(csv_path):
    """A CSV log the suite wrote, its `epoch` column counted from 1 like checkpoints, sample grids and
    state.json (a row's epoch = epochs finished). Logs written before counted from 0: their first
    row has epoch 0, which the new numbering never writes, so they are shifted here."""
    table = pd.read_csv(csv_path)
    if "epoch" in table and len(table) and table["epoch"].iloc[0] == 0:
        table["epoch"] += 1
    return table


def loss_curves(csv_path, path, x="epoch", title=None):
    """One line per logged column of a CSV loss log, against its `x` column."""
    table = read_log(csv_path)
    if table.empty:
        return None
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for column in table.columns:
        if column != x and column != "step" and column != "epoch":
            ax.plot(table[x], table[column], label=column,     # short runs: points, not empty frames
                    marker="o" if len(table) <= 30 else None, markersize=4)
    ax.set_xlabel(x)
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def confusion_matrix(y_true, y_pred, path, labels=None, title=None):
    from sklearn.metrics import ConfusionMatrixDisplay
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=labels, ax=ax,
                                            colorbar=False, values_format="d")
    if title:
        ax.set_title(title)
    return _save(fig, path)
