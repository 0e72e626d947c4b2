import math

import numpy as np
import pytest

from common import imbalance
from common.errors import UserError

LABELS = np.repeat(np.arange(3), [100, 80, 60])


def test_prune_keeps_ceil_u_of_the_largest_other_class():
    kept = imbalance.prune(LABELS, target_class=2, unbalance=0.05, seed=1)
    counts = np.bincount(LABELS[kept])
    assert counts.tolist() == [100, 80, math.ceil(0.05 * 100)]
    # the largest *other* class decides: pruning class 0 uses 80
    assert np.bincount(LABELS[imbalance.prune(LABELS, 0, 0.1, 1)])[0] == 8


def test_prune_is_seeded():
    a = imbalance.prune(LABELS, 1, 0.2, seed=3)
    assert np.array_equal(a, imbalance.prune(LABELS, 1, 0.2, seed=3))
    assert not np.array_equal(a, imbalance.prune(LABELS, 1, 0.2, seed=4))


@pytest.mark.parametrize("target, u, message", [(5, 0.1, "not among"), (0, 0.0, "0 < u <= 1"),
                                                (0, 1.5, "0 < u <= 1")])
def test_prune_rejects_bad_arguments(target, u, message):
    with pytest.raises(UserError, match=message):
        imbalance.prune(LABELS, target, u, 0)


def test_k_shot(tmp_path):
    idx = imbalance.k_shot(LABELS, 3, seed=0)
    assert np.bincount(LABELS[idx]).tolist() == [3, 3, 3]
    with pytest.raises(UserError, match="fewer than the 61"):
        imbalance.k_shot(LABELS, 61, seed=0)
    np.testing.assert_array_equal(np.load(imbalance.save_indices(tmp_path, idx)), idx)
