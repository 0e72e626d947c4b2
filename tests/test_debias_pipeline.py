"""De-biasing end to end: a smoke run of every step on a few images with a tiny generator, and
one-line errors with exit status 2 for bad attributes and missing generator checkpoints."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_debias_fixtures import fake_celeba, tiny_generator

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_pipeline(tmp_path, capsys):
    from debias import pipeline
    data = fake_celeba(tmp_path / "data")
    gen = tiny_generator(tmp_path / "gen.keras")
    out = tmp_path / "results" / "debias"
    exp = pipeline.main(["--profile", "smoke", "--data-dir", str(data), "--out", str(out),
                         "--generator", str(gen)])
    assert exp == out / "Arched_Eyebrows_vs_Male_smoke_seed0"
    orig = np.load(exp / "fake" / "orig.npz")
    assert orig["z"].shape == (48, 6) and orig["images"].shape == (48, 16, 16, 3)
    labels = np.load(exp / "fake" / "labels.npz")
    assert set(np.unique(labels["target"])) == {0, 1} and set(np.unique(labels["protected"])) == {0, 1}
    pairs = np.load(exp / "fake" / "latents_flip.npz")
    np.testing.assert_array_equal(pairs["index"], np.arange(16, 48))
    planes = json.loads((exp / "fake" / "hyperplanes.json").read_text())
    w_a, b_a = np.array(planes["target"]["w"]), planes["target"]["b"]
    w_g, b_g = np.array(planes["protected"]["w"]), planes["protected"]["b"]
    assert np.linalg.norm(w_a) == pytest.approx(1.0) and np.linalg.norm(w_g) == pytest.approx(1.0)
    z = orig["z"][pairs["index"]].astype(np.float64)
    # z' is the exact complement, clipped (by default) to the uniform prior's box [-1, 1]
    from debias import latent
    exact = latent.complement(z, w_a, w_g, b_g)
    inside = np.all(np.abs(exact) <= 1, axis=1)
    np.testing.assert_allclose(pairs["z_flip"], np.clip(exact, -1, 1), atol=1e-5)
    np.testing.assert_allclose(pairs["z_flip"][inside] @ w_a, z[inside] @ w_a, atol=1e-5)
    np.testing.assert_allclose(pairs["z_flip"][inside] @ w_g + b_g, -(z[inside] @ w_g + b_g), atol=1e-5)
    assert planes["clipping"]["clipped"] is True
    assert planes["clipping"]["fraction_latents_clipped"] == pytest.approx(1 - inside.mean())
    kept = np.mean((z @ w_a + b_a > 0) == (pairs["z_flip"] @ w_a + b_a > 0))
    assert planes["clipping"]["target_side_kept"] == pytest.approx(kept, abs=1 / len(z))   # float32 z' on disk
    labelling = json.loads((exp / "fake" / "labels.json").read_text())
    assert labelling["target"]["rule"] == "median" and labelling["target"]["fallback"] is None
    assert np.load(exp / "fake" / "flip.npz")["images"].shape == (32, 16, 16, 3)
    check = json.loads((exp / "fake" / "flip_check.json").read_text())
    assert check["n"] == 32 and 0 <= check["protected"]["label_flipped"] <= 1
    assert check["target"]["label_kept"] + check["target"]["label_flipped"] == pytest.approx(1.0)
    for model in ("baseline", "protected", "gan-debiased"):
        assert (exp / model / "best.keras").exists()
        config = json.loads((exp / model / "config.json").read_text())["config"]
        assert config["imagenet_weights"] is False
    # the de-biased model saw real (32) + G(z) (32) + G(z') (32) images: 96 // 8 steps per epoch
    losses = (exp / "gan-debiased" / "losses.csv").read_text().splitlines()
    assert len(losses) == 2
    metrics = json.loads((exp / "metrics.json").read_text())
    assert set(metrics["test"]) == {"baseline", "gan-debiased"}
    for result in metrics["test"].values():
        assert set(result) >= {"AP", "DEO", "BA", "KL", "threshold"}
        assert set(result["AP"]) == {"median", "std", "pm2std"}
    assert metrics["paper_category_means"]["baseline"]["AP"] == 78.6
    assert metrics["flip_check"] == check and metrics["labelling"] == labelling
    assert metrics["kl_definition"] == "common-bins" and "KL_other" in metrics["test"]["baseline"]
    assert metrics["svm_accuracy"]["clipping"] == planes["clipping"]
    rows = json.loads((exp / "headline.json").read_text())
    assert len(rows) == 8 and {r["paper"] for r in rows} == {"GAN de-biasing"}
    assert "| baseline |" in (exp / "metrics.md").read_text()
    assert "KL original (down)" in (exp / "metrics.md").read_text()     # the paper's KL beside ours
    assert "| gan-debiased - baseline, paired |" in (exp / "metrics.md").read_text()
    assert set(metrics["test_difference"]) == {"AP", "DEO", "BA"}
    # evaluate's scoring and bootstraps report progress (common.progress), the last line with the total time
    printed = capsys.readouterr().out
    for what in ("baseline scores, test", "gan-debiased bootstrap, test", "gan-debiased bootstrap, val"):
        assert re.search(rf"^{what} \[\d+/\d+ (images|resamples), .+ in all\]$", printed, re.M), what
    timing = json.loads((exp / "timing.json").read_text())
    assert len(timing) == 1 and set(timing[0]["seconds"]) >= {"train baseline", "hyperplane", "evaluate"}
    # run again: every step finds its output and skips it
    before = (exp / "fake" / "orig.npz").stat().st_mtime_ns
    from debias import generate
    generate.main(["--generate", "orig", "--profile", "smoke", "--out", str(out), "--data-dir", str(data)])
    assert (exp / "fake" / "orig.npz").stat().st_mtime_ns == before


def run(*args, cwd):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env={"GAN_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(cwd), "TF_CPP_MIN_LOG_LEVEL": "2",
                               "PYTHONPATH": str(ROOT)})   # this checkout, not an installed copy


@pytest.mark.parametrize("argv, message", [
    (["-m", "debias.train", "--model-train", "baseline", "--attribute", "Moustache"],
     "CelebA has no attribute 'Moustache'"),
    (["-m", "debias.pipeline", "--attribute", "Male", "--protected-attribute", "male"],
     "the target and the protected attribute are both Male"),
    (["-m", "debias.pipeline", "--generator", "no/such/run"],
     "generator checkpoint no/such/run does not exist"),
    (["-m", "debias.generate", "--generate", "orig", "--generator", "missing.keras"],
     "generator checkpoint missing.keras does not exist"),
    (["-m", "debias.pipeline", "--generator", "README.md"], "is not a .keras file"),
    (["-m", "debias.pipeline", "--kl", "paper"], "invalid choice: 'paper'"),
    (["-m", "debias.pipeline", "--label-fallback", "mean"], "invalid choice: 'mean'"),
    (["-m", "debias.hyperplane", "--clip-latents", "yes"], "unrecognized arguments: yes"),
    (["-m", "debias.evaluate", "nowhere", "--kl", "kde"], "invalid choice: 'kde'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, argv, message):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "README.md").write_text("not a generator")
    result = run(*argv, "--data-dir", str(data), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()      # nothing was created
