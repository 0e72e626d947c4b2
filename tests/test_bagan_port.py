"""bagan/port.py on the fixture of the original IBM/BAGAN's files (Keras 2, channels-first, MNIST
target class 0): the imported channels-last networks compute the reference outputs, and unusable
files give one line and exit status 2 without leaving anything behind."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from bagan import port

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT.parent / "shared" / "fixtures" / "bagan_keras2"
RUN_NAME = "res_MNIST_dmode_uniform_gmode_uniform_unbalance_0.05_epochs_10_lr_0.000050_seed_0"
TOL = dict(rtol=1e-5, atol=1e-5)      # the fixture README's tolerance for float32 on CPU

pytestmark = pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"fixture {FIXTURE} absent")


def nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def nchw(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


def make_original(parent, name=RUN_NAME, copy=()):
    """The fixture's files as the original lays them out: flat, in its res_... folder. Files are
    symlinked, except those in `copy` (the tests that damage them get their own copy)."""
    folder = parent / name
    folder.mkdir(parents=True)
    for path in FIXTURE.iterdir():
        if path.is_file() and path.suffix in (".h5", ".npy", ".csv"):
            if path.name in copy:
                shutil.copy(path, folder / path.name)
            else:
                (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURE / "reference.npz")


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    return port.load_original(make_original(tmp_path_factory.mktemp("orig")))


def run_main(argv, capsys):
    """port.main in-process: (exit status, stderr lines)."""
    with pytest.raises(SystemExit) as exit_info:
        port.main(argv)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


# --- 1. reading the original's directory ---------------------------------------------------------

def test_settings_files_and_logs_are_read(original):
    assert original.settings == {"dataset": "MNIST", "dmode": "uniform", "gmode": "uniform",
                                 "unbalance": 0.05, "epochs": 10, "lr": 5e-05, "seed": 0}
    assert original.target_class == 0 and original.epochs_done == 10
    assert original.image_shape == (28, 28, 1)
    assert {r: p.name for r, p in original.files.items()} == {
        "generator": "class_0_generator.h5", "discriminator": "class_0_discriminator.h5",
        "encoder": "class_0_reconstructor.h5", "decoder": "0_decoder.h5", "ae_encoder": "0_encoder.h5"}
    assert original.means.shape == (10, 100) and original.covariances.shape == (10, 100, 100)
    np.testing.assert_array_equal(original.means, np.load(FIXTURE / "0_means.npy"))
    assert len(original.scores) == 10 and original.scores[0]["train_gen_loss"] == 1.8939096
    assert original.scores[0]["test_disc_loss"] == 0.9246380220812176     # float64 kept exactly
    assert original.autoencoder_losses[0] == 0.21115917 and original.ae_epochs == 10


def test_backups_are_used_when_the_final_files_are_missing(tmp_path):
    folder = make_original(tmp_path)
    (folder / "class_0_generator.h5").unlink()
    files, epochs = port._networks_files(folder, 0)
    assert (files["generator"].name, files["discriminator"].name, epochs) == (
        "bck_c_0_generator_e_5.h5", "bck_c_0_discriminator_e_5.h5", 6)     # backup after epoch 5
    assert port.target_classes(folder) == [0]
    assert port.parse_settings(folder, {"seed": 3, "dataset": None}) == {
        "dataset": "MNIST", "dmode": "uniform", "gmode": "uniform", "unbalance": 0.05, "epochs": 10,
        "lr": 5e-05, "seed": 3}


def test_layout_rules_follow_the_stored_config():
    main = port.read_keras2(FIXTURE / "class_0_discriminator.h5")
    k224 = port.read_keras2(FIXTURE / "keras_2.2.4_variant" / "class_0_discriminator.h5")
    assert main.keras_version == "2.1.5" and main.channels_first() and main.flatten_in_chw_order()
    assert k224.keras_version == "2.2.4" and not k224.flatten_in_chw_order()
    assert main.image_shape() == (28, 28, 1)
    assert [a.shape for a in main.arrays][-2:] == [(12544, 11), (11,)]


def test_permutations_match_the_original_layouts(original, ref):
    """The permuted Dense kernels multiply the channels-last features to the same values the stored
    kernels give on the original's (C, h, w)-ordered features."""
    d = port.read_keras2(FIXTURE / "class_0_discriminator.h5")
    k_nchw, k_nhwc = d.arrays[-2], port.to_channels_last(d, "discriminator")[-2]
    feats_nchw = ref["disc_flatten_features"]
    feats_nhwc = feats_nchw.reshape(-1, 256, 7, 7).transpose(0, 2, 3, 1).reshape(len(feats_nchw), -1)
    np.testing.assert_allclose(feats_nhwc @ k_nhwc, feats_nchw @ k_nchw, **TOL)
    g = port.read_keras2(FIXTURE / "class_0_generator.h5")
    k = port.to_channels_last(g, "generator")[1]
    hidden = np.maximum(ref["z"] @ g.arrays[0], 0)
    maps = np.maximum(hidden @ k, 0).reshape(-1, 7, 7, 128)
    np.testing.assert_allclose(nchw(maps), ref["gen_reshape_nchw"], **TOL)


# --- 2. the imported networks compute what the originals compute ---------------------------------

def test_final_networks_equal_the_reference(original, ref):
    x = nhwc(ref["x"])
    images = original.generator(ref["z"], training=False)
    np.testing.assert_allclose(nchw(images), ref["gen_images"], **TOL)
    np.testing.assert_allclose(original.discriminator(x, training=False), ref["disc_probs"], **TOL)
    np.testing.assert_allclose(original.encoder(x, training=False), ref["enc_latents"], **TOL)
    # the original's `combined` = D(G(z))
    np.testing.assert_allclose(original.discriminator(images, training=False), ref["combined_probs"], **TOL)
    # the autoencoder phase's networks, and the original's `autoenc_0` = decoder(encoder(x))
    codes = original.ae_encoder(x, training=False)
    np.testing.assert_allclose(codes, ref["enc_latents"], **TOL)
    np.testing.assert_allclose(nchw(original.decoder(ref["z"], training=False)), ref["decoder_images"], **TOL)
    np.testing.assert_allclose(nchw(original.decoder(codes, training=False)), ref["autoenc_images"], **TOL)


@pytest.fixture(scope="module")
def scratch():
    """Networks of each role that the tests load other files into (building costs more than loading)."""
    from bagan import models
    return {"generator": models.build_generator((28, 28, 1)),
            "discriminator": models.build_discriminator((28, 28, 1), 10),
            "encoder": models.build_encoder((28, 28, 1))}


def test_backups_and_keras_2_2_variant_equal_the_reference(scratch, ref):
    x = nhwc(ref["x"])

    def outputs(role, name, inputs):
        net = port.load_weights(scratch[role], port.read_keras2(FIXTURE / name), role)
        return np.asarray(net(inputs, training=False))

    np.testing.assert_allclose(nchw(outputs("generator", "bck_c_0_generator_e_5.h5", ref["z"])),
                               ref["bck_gen_images"], **TOL)
    np.testing.assert_allclose(outputs("discriminator", "bck_c_0_discriminator_e_5.h5", x),
                               ref["bck_disc_probs"], **TOL)
    np.testing.assert_allclose(outputs("discriminator", "keras_2.2.4_variant/class_0_discriminator.h5", x),
                               ref["k224_disc_probs"], **TOL)
    np.testing.assert_allclose(outputs("encoder", "keras_2.2.4_variant/class_0_reconstructor.h5", x),
                               ref["k224_enc_latents"], **TOL)


def test_weights_only_files_are_read_like_whole_models(tmp_path, scratch, ref):
    """Keras 2 `save_weights` writes the layer groups at the root, with no model config."""
    path = tmp_path / "weights_only.h5"
    with h5py.File(FIXTURE / "class_0_discriminator.h5", "r") as src, h5py.File(path, "w") as dst:
        for name, value in src["model_weights"].attrs.items():
            dst.attrs[name] = value
        for name in src["model_weights"]:
            src.copy(src["model_weights"][name], dst, name)
    kfile = port.read_keras2(path)
    assert kfile.config is None and kfile.flatten_in_chw_order()        # 2.1.5: C-order Flatten
    d = port.load_weights(scratch["discriminator"], kfile, "discriminator")
    np.testing.assert_allclose(d(nhwc(ref["x"]), training=False), ref["disc_probs"], **TOL)


# --- 4. unusable files: one line, exit 2, nothing written ----------------------------------------

def test_corrupted_h5_gives_one_line_and_exit_2(tmp_path):
    folder = make_original(tmp_path, copy=("class_0_generator.h5",))
    damaged = folder / "class_0_generator.h5"
    damaged.write_bytes(damaged.read_bytes()[:50000])          # a copy that stopped half-way
    out = tmp_path / "imported"
    proc = subprocess.run([sys.executable, "-m", "bagan.port", str(folder), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "GAN_OFFLINE": "1"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "class_0_generator.h5" in lines[0] and "HDF5" in lines[0]
    assert not out.exists() and not list(tmp_path.glob("imported*"))


def test_shape_mismatch_gives_one_line_and_exit_2(tmp_path, capsys):
    folder = make_original(tmp_path, copy=("class_0_discriminator.h5",))
    with h5py.File(folder / "class_0_discriminator.h5", "r+") as f:    # a head for 5 classes + fake
        group = f["model_weights/auxiliary/auxiliary"]
        del group["kernel:0"]
        group["kernel:0"] = np.zeros((12544, 6), np.float32)
    out = tmp_path / "imported"
    status, lines = run_main([str(folder), "--out", str(out)], capsys)
    assert status == 2 and len(lines) == 1
    assert "class_0_discriminator.h5" in lines[0] and "(12544, 6)" in lines[0] and "(12544, 11)" in lines[0]
    assert not out.exists() and not list(tmp_path.glob("imported*"))


def test_a_model_that_is_not_bagans_is_refused(tmp_path, capsys):
    folder = make_original(tmp_path)
    (folder / "class_0_generator.h5").unlink()
    (folder / "class_0_generator.h5").symlink_to(FIXTURE / "class_0_discriminator.h5")
    status, lines = run_main([str(folder), "--out", str(tmp_path / "imported")], capsys)
    assert status == 2 and len(lines) == 1
    assert "class_0_generator.h5" in lines[0] and "not the original BAGAN's generator" in lines[0]


def test_missing_class_file_and_unnamed_folder_are_refused(tmp_path, capsys):
    folder = make_original(tmp_path)
    (folder / "0_covariances.npy").unlink()
    status, lines = run_main([str(folder), "--out", str(tmp_path / "imported")], capsys)
    assert status == 2 and len(lines) == 1 and "0_covariances.npy: missing" in lines[0]
    renamed = make_original(tmp_path, name="my_results")
    status, lines = run_main([str(renamed), "--out", str(tmp_path / "imported")], capsys)
    assert status == 2 and len(lines) == 1 and "-D/--dataset" in lines[0] and "-u/--unbalance" in lines[0]
    assert not (tmp_path / "imported").exists()


# --- 3. an imported run is a run of this suite: it evaluates and continues training --------------

DATA = Path(os.environ.get("GAN_DATA_DIR", ROOT.parent / "shared" / "data"))
# Continued training at the original's width on a handful of images, so that the test stays short.
SMALL = ["--profile", "smoke", "--batch-size", "2", "--train-limit", "8", "--test-limit", "2"]
ORIGINAL_FLAGS = ["-D", "MNIST", "-u", "0.05", "-c", "0", "-l", "5e-05", "-s", "0"]


@pytest.fixture(scope="module")
def imported(original, tmp_path_factory):
    """The fixture imported (as port.main does, without reading the files again) under the name
    bagan/train.py gives the run when asked for 11 epochs."""
    if not (DATA / "mnist").is_dir():
        pytest.skip(f"MNIST not found in {DATA}: set GAN_DATA_DIR")
    out = tmp_path_factory.mktemp("runs") / RUN_NAME.replace("epochs_10", "epochs_11")
    config = port.suite_config(original, out, "smoke", batch_size=2, train_limit=8, test_limit=2,
                               data_dir=str(DATA))
    return port.write_run(original, out, config, port.kept_indices(original, config, str(DATA)))


def test_imported_run_restores_into_bagan_with_the_same_outputs(imported, ref):
    import pandas as pd
    from bagan import gan
    from common import training
    config = json.loads((imported / "config.json").read_text())["config"]
    assert (config["dataset"], config["unbalance"], config["target_class"], config["lr"],
            config["seed"], config["dmode"], config["gmode"], config["width"]) == (
            "MNIST", 0.05, 0, 5e-05, 0, "uniform", "uniform", 1.0)
    model = gan.BAGAN((28, 28, 1), 10, seed=0)
    model.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    assert training.load_checkpoint(model, imported / "class_0" / "gan", port.resume_config(config, imported)) == 10
    x = nhwc(ref["x"])
    np.testing.assert_allclose(nchw(model.generator(ref["z"], training=False)), ref["gen_images"], **TOL)
    np.testing.assert_allclose(model.discriminator(x, training=False), ref["disc_probs"], **TOL)
    np.testing.assert_allclose(np.asarray(model.latent_means), np.load(FIXTURE / "0_means.npy"))
    losses = pd.read_csv(imported / "class_0" / "gan" / "losses.csv")
    assert list(losses.columns) == ["epoch", "disc_loss", "gen_loss", "val_disc_loss", "val_gen_loss"]
    assert losses["epoch"].tolist() == list(range(1, 11)) and losses["gen_loss"][0] == 1.8939096
    assert losses["val_disc_loss"][0] == 0.9246380220812176
    assert pd.read_csv(imported / "class_0" / "autoencoder" / "losses.csv")["loss"].tolist()[-1] == 0.052638836
    kept = np.load(imported / "0_kept_indices.npy")
    assert len(kept) > 0 and kept.dtype == np.int64
    # the logs are imported once, into the suite's own files
    assert not {"class_0_score.csv", "0_autoencoder.csv", "loss_class_0.png"} & {p.name for p in imported.iterdir()}


def test_export_gives_back_the_originals_logs_byte_for_byte(imported, tmp_path):
    """Import, then export: the original's two loss logs come back as it wrote them (header, CRLF,
    float32 train and float64 test losses), and the import reads the export's logs."""
    out = port.main([str(imported), "--export", "--out", str(tmp_path / RUN_NAME)])
    for name in ("class_0_score.csv", "0_autoencoder.csv"):
        assert (out / name).read_bytes() == (FIXTURE / name).read_bytes(), name
    assert {"0_means.npy", "0_covariances.npy", "class_0_generator.weights.h5"} <= {p.name for p in out.iterdir()}
    assert port._read_scores(out / "class_0_score.csv") == port._read_scores(FIXTURE / "class_0_score.csv")


def test_imported_run_evaluates(imported, monkeypatch):
    """bagan/evaluate.py accepts the imported run. Its reference classifier (trained on all of MNIST,
    minutes) is replaced by an untrained one: what is tested here is the run directory."""
    from bagan import evaluate
    from common.metrics import classifier

    def untrained(*args, **kwargs):
        return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(10, activation="softmax")])
    monkeypatch.setattr(classifier, "reference_classifier", untrained)
    metrics = evaluate.main([str(imported), "--profile", "smoke", "--skip-classifiers",
                             "--data-dir", str(DATA)])
    assert set(metrics["per_class"]) == {"0"}
    assert 0 <= metrics["per_class"]["0"]["ssim_generated_pairs"] <= 1
    assert (imported / "metrics.json").exists() and (imported / "headline.json").exists()


def test_imported_run_continues_training(imported):
    """bagan/train.py resumes the imported run for one more epoch: the autoencoder is not trained
    again and the loss logs hold the original's 10 epochs followed by the new one."""
    import pandas as pd
    from bagan import train
    res = train.main([*SMALL, "--width", "1", *ORIGINAL_FLAGS, "-e", "11", "--ae-epochs", "10",
                      "--out", str(imported.parent), "--data-dir", str(DATA)])
    assert res == imported
    state = lambda phase: json.loads((imported / "class_0" / phase / "state.json").read_text())  # noqa: E731
    assert state("autoencoder")["epoch"] == 10 and state("gan")["epoch"] == 11
    losses = pd.read_csv(imported / "class_0" / "gan" / "losses.csv")
    assert losses["epoch"].tolist() == list(range(1, 12))
    original = pd.read_csv(FIXTURE / "class_0_score.csv").rename(columns=port.GAN_COLUMNS)
    np.testing.assert_array_equal(losses[original.columns].values[:10], original.values)
    assert np.isfinite(losses[original.columns].values[10]).all()
    gan = imported / "class_0" / "gan"
    assert (gan / "losses.png").exists() and (gan / "samples" / "epoch_0011.png").exists()
    assert not (imported / "cmp_class_0_epoch_11.png").exists()     # the export's name for that grid


def test_imported_run_augments(imported, tmp_path):
    """bagan/augment.py fills every class of the kept training images up to the majority count with
    images from the imported generator."""
    from bagan import augment
    out = augment.main(["--run", str(imported), "--output", str(tmp_path / "balanced.npz"),
                        "--data-dir", str(DATA)])
    with np.load(out) as balanced:
        counts = np.bincount(balanced["labels"], minlength=10)
        assert balanced["images"].shape[1:] == (28, 28, 1) and balanced["images"].dtype == np.uint8
        assert len(set(counts.tolist())) == 1 and balanced["synthetic"].any()
