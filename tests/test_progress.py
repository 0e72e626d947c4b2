"""common.progress: a line per finished item with an ETA from the work done so far."""
import types

import numpy as np
import pytest

from common import progress


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves by hand: clock.now = seconds."""
    fake = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=lambda: fake.now))
    return fake


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_a_line_per_item_with_the_eta_then_the_total_time(clock, capsys):
    bar = progress.Progress(3, "classifiers")
    for i in range(3):
        clock.now += 20
        bar.step(f"arm {i}")
    assert lines(capsys) == ["classifiers: arm 0 [1/3, ETA 40 s]", "classifiers: arm 1 [2/3, ETA 20 s]",
                             "classifiers: arm 2 [3/3, 60 s in all]"]


def test_the_eta_weighs_items_by_their_work_and_leaves_out_skipped_ones(clock, capsys):
    bar = progress.Progress(3, work=1 + 1 + 4)
    bar.step("stored", work=1, skipped=True)         # read from disk: no time, no share of the ETA
    clock.now += 60
    bar.step("k=1", work=1)
    clock.now += 240
    bar.step("k=4", work=4)
    assert lines(capsys) == ["stored [1/3, ETA unknown]", "k=1 [2/3, ETA 4 min]", "k=4 [3/3, 5 min in all]"]


def test_interval_keeps_short_items_to_a_line_per_interval_and_the_last(clock, capsys):
    bar = progress.Progress(100, "features", unit="images", interval=10)
    for _ in range(10):
        clock.now += 3
        bar.step(n=10)
    assert lines(capsys) == ["features [40/100 images, ETA 18 s]", "features [80/100 images, ETA 6 s]",
                             "features [100/100 images, 30 s in all]"]


def test_quiet_when_not_verbose(clock, capsys):
    bar = progress.Progress(2, "x", verbose=False)
    bar.step()
    bar.step()
    assert capsys.readouterr().out == ""


def test_kid_reports_its_subsets_only_when_verbose(capsys):
    from common.metrics import fid
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    quiet = fid.kid(a, b, subsets=3, subset_size=10)
    assert capsys.readouterr().out == ""
    assert fid.kid(a, b, subsets=3, subset_size=10, verbose=1) == quiet
    assert lines(capsys)[-1].startswith("KID [3/3 subsets, ")
