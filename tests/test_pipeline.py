import numpy as np
import pytest

from common import pipeline

IMAGES = np.arange(10 * 2 * 2 * 1, dtype=np.uint8).reshape(10, 2, 2, 1) * 6
LABELS = np.array([0] * 8 + [1] * 2)


def batches(ds, n):
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy() for b in ds.take(n)]


def test_scaling_and_shapes():
    ds, steps = pipeline.make_dataset(IMAGES, LABELS, batch_size=4, seed=0)
    assert steps == 2
    x, y = batches(ds, 1)[0]
    assert x.shape == (4, 2, 2, 1) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_allclose(pipeline.scale(np.array([0, 255], np.uint8)).numpy(), [-1, 1])
    np.testing.assert_array_equal(pipeline.to_uint8(pipeline.scale(IMAGES)), IMAGES)


def test_each_epoch_is_a_seeded_permutation_and_resume_sees_the_same_batches():
    ds, _ = pipeline.make_dataset(IMAGES, LABELS, batch_size=5, seed=7)
    stream = batches(ds, 6)                       # 3 epochs of 2 batches
    epoch = lambda k: np.sort(np.concatenate([b[1] for b in stream[2 * k:2 * k + 2]]))  # noqa: E731
    assert all(np.array_equal(epoch(k), np.sort(LABELS)) for k in range(3))
    assert not np.array_equal(stream[0][0], stream[2][0])     # reshuffled every epoch
    resumed, _ = pipeline.make_dataset(IMAGES, LABELS, batch_size=5, seed=7, start_epoch=2)
    for a, b in zip(batches(resumed, 2), stream[4:6]):
        np.testing.assert_array_equal(a[0], b[0])
    other, _ = pipeline.make_dataset(IMAGES, LABELS, batch_size=5, seed=8)
    assert not np.array_equal(batches(other, 1)[0][0], stream[0][0])


def test_a_finite_stream_knows_its_length():
    """Keras reads the length to run validation passes without a "ran out of data" warning."""
    ds, steps = pipeline.make_dataset(IMAGES, LABELS, batch_size=4, seed=0, epochs=3)
    assert int(ds.cardinality()) == steps * 3 == len(batches(ds, 100))
    endless, _ = pipeline.make_dataset(IMAGES, LABELS, batch_size=4, seed=0)
    assert int(endless.cardinality()) < 0     # unknown or infinite, never a count


def test_class_probabilities_by_hand():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)          # frequencies .6 .3 .1
    np.testing.assert_allclose(pipeline.class_probabilities(labels, "uniform"), [1 / 3] * 3)
    # rebalance: max(0, 2/3 - f) = [.0667, .3667, .5667] -> normalised
    p = np.array([2 / 3 - .6, 2 / 3 - .3, 2 / 3 - .1])
    np.testing.assert_allclose(pipeline.class_probabilities(labels, "rebalance"), p / p.sum())
    with pytest.raises(ValueError):
        pipeline.class_probabilities(labels, "other")


def test_uniform_class_mode_balances_the_batches():
    ds, _ = pipeline.make_dataset(IMAGES, LABELS, batch_size=10, seed=0, class_mode="uniform")
    labels = np.concatenate([b[1] for b in batches(ds, 200)])
    assert abs(labels.mean() - 0.5) < 0.03                  # natural frequency of class 1 is 0.2


def test_the_suites_datasets_run_without_tf_data_autotuning():
    # With autotuning on, destroying an iterator waits for the autotune thread's current sleep (up to
    # 60 s, about the iterator's age): every fit call or fit-over-arrays epoch lost that much, idle.
    from dagan.gan import pair_dataset
    images = np.zeros((8, 4, 4, 1), np.uint8)
    labels = np.repeat(np.arange(4), 2)
    made = {"make_dataset": pipeline.make_dataset(images, labels, batch_size=2, epochs=1)[0],
            "mixed_dataset": pipeline.mixed_dataset(images, labels, (images, labels), batch_size=4)[0],
            "dagan pair_dataset": pair_dataset(images, labels, 2, 2, critic_steps=1)}
    for name, ds in made.items():
        assert ds.options().autotune.enabled is False, name
        next(iter(ds))
