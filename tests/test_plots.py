"""common.plots: loss curves that show something for any run length, logs counted from epoch 1."""
import pandas as pd

from common import plots


def curves(monkeypatch, tmp_path, table):
    """The loss-curve figure of a CSV holding `table` (kept open instead of saved)."""
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    csv = tmp_path / "losses.csv"
    table.to_csv(csv, index=False)
    plots.loss_curves(csv, tmp_path / "losses.png")
    return figures[0]


def test_a_one_epoch_run_plots_a_visible_marker(monkeypatch, tmp_path):
    fig = curves(monkeypatch, tmp_path, pd.DataFrame({"epoch": [1], "d_loss": [0.7], "g_loss": [1.2]}))
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["d_loss", "g_loss"]
    assert all(line.get_marker() not in (None, "", "None") and line.get_xdata().tolist() == [1] for line in lines)


def test_long_runs_are_plain_lines(monkeypatch, tmp_path):
    fig = curves(monkeypatch, tmp_path, pd.DataFrame({"epoch": range(1, 101), "loss": [1.0] * 100}))
    assert fig.axes[0].get_lines()[0].get_marker() in (None, "", "None")


def test_a_log_counted_from_0_is_read_counted_from_1(tmp_path):
    csv = tmp_path / "losses.csv"
    csv.write_text("epoch,loss\n0,1.0\n1,0.5\n")
    assert plots.read_log(csv)["epoch"].tolist() == [1, 2]
    csv.write_text("epoch,loss\n1,1.0\n2,0.5\n")
    assert plots.read_log(csv)["epoch"].tolist() == [1, 2]
    fig_x = tmp_path / "steps.csv"
    fig_x.write_text("step,epoch,loss\n1,0,1.0\n2,1,0.5\n")
    assert plots.read_log(fig_x)["step"].tolist() == [1, 2] and plots.read_log(fig_x)["epoch"].tolist() == [1, 2]
