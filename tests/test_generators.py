"""common.generators on a smoke run of every package (trained once per module through each package's
own CLI, on the real data), and common.pipeline.mixed_dataset's fixed real share per batch."""
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from common import cli, generators, pipeline
from common.errors import UserError
from tests.conftest import shared_data

BAGAN_FLAGS = ["-u", "0.05", "-c", "0", "--ae-epochs", "1", "-e", "1", "--width", "0.125", "--quiet"]
PACKAGES = ("bagan", "cgan", "infogan", "dagan", "began")


@pytest.fixture(scope="module")
def data():
    root = shared_data()
    if root is None:
        pytest.skip("real datasets not found: set GAN_DATA_DIR or put them in ../shared/data")
    return root


@pytest.fixture(scope="module")
def bagan_run(data, tmp_path_factory):
    from bagan import train
    return train.main(["--profile", "smoke", *BAGAN_FLAGS, "--data-dir", str(data),
                       "--out", str(tmp_path_factory.mktemp("bagan"))])


@pytest.fixture(scope="module")
def cgan_infogan_run(data, tmp_path_factory):
    from cgan_infogan import train
    out = tmp_path_factory.mktemp("cgan_infogan")
    train.main(["--profile", "smoke", "--data-dir", str(data), "--out", str(out)])
    return out / "mnist_smoke"


@pytest.fixture(scope="module")
def dagan_run(data, tmp_path_factory):
    from dagan import train
    return train.main(["--profile", "smoke", "--data-dir", str(data), "--out", str(tmp_path_factory.mktemp("dagan"))])


@pytest.fixture(scope="module")
def began_run(data, tmp_path_factory):
    from began import train
    return train.main(["--profile", "smoke", "--data-dir", str(data), "--out", str(tmp_path_factory.mktemp("began"))])


def run_of(request, package):
    name = {"cgan": "cgan_infogan", "infogan": "cgan_infogan"}.get(package, package)
    return request.getfixturevalue(f"{name}_run")


def load(request, package):
    return generators.load(run_of(request, package), "infogan" if package == "infogan" else None)


def request_for(g, count=6):
    """sample() arguments asking `g` for `count` images."""
    if g.conditioning == "labels":
        return {"labels": np.arange(count) % g.num_classes}
    if g.conditioning == "sources":
        sources = np.random.default_rng(5).integers(0, 256, (count, *g.image_shape), dtype=np.uint8)
        return {"sources": sources}
    return {"n": count}


IMAGE_SHAPES = {"bagan": (28, 28, 1), "cgan": (28, 28, 1), "infogan": (28, 28, 1), "dagan": (28, 28, 1),
                "began": (32, 32, 3)}


@pytest.mark.parametrize("package", PACKAGES)
def test_sample_shape_dtype_range_and_seed(request, package):
    g = load(request, package)
    assert g.package == package
    args = request_for(g)
    images = g.sample(seed=3, **args)
    assert images.shape == (6, *IMAGE_SHAPES[package]) and images.dtype == np.uint8
    assert np.array_equal(images, g.sample(seed=3, **args))
    floats = g.sample(seed=3, dtype="float32", **args)
    assert floats.dtype == np.float32 and floats.shape == images.shape
    assert floats.min() >= -1 and floats.max() <= 1
    assert np.array_equal(pipeline.to_uint8(floats), images)      # one scale for both dtypes
    # another seed draws other latents (compared as floats: a smoke-trained G's outputs are close)
    assert not np.array_equal(floats, g.sample(seed=4, dtype="float32", **args))
    with pytest.raises(UserError, match="dtype"):
        g.sample(seed=3, dtype="float16", **args)


@pytest.mark.parametrize("package", PACKAGES)
def test_save_round_trips_through_plain_load_model(request, package, tmp_path):
    g = load(request, package)
    path = g.save(tmp_path / f"{package}.keras")
    loaded = keras.saving.load_model(path)
    args = request_for(g)
    out = loaded.predict(g.inputs(seed=7, **args), verbose=0)
    np.testing.assert_allclose(np.clip(out, -1, 1), g.sample(seed=7, dtype="float32", **args), atol=1e-5)
    with pytest.raises(UserError, match=r"\.keras"):
        g.save(tmp_path / f"{package}.h5")


def test_saved_files_load_without_the_suite(request, tmp_path):
    """`plain` means no package code: a fresh interpreter that cannot import the suite loads them."""
    paths = [str(load(request, p).save(tmp_path / f"{p}.keras")) for p in PACKAGES]
    code = ("import sys, keras\n"
            "for p in sys.argv[1:]:\n"
            "    m = keras.saving.load_model(p)\n"
            "    print(m.name, len(m.inputs))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code, *paths], cwd=tmp_path, env=env, check=False,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [int(line.split()[1]) for line in result.stdout.split("\n") if line.strip()] == [2, 2, 3, 2, 1]


@pytest.mark.parametrize("package", ("bagan", "cgan"))
def test_class_conditioning(request, package):
    g = load(request, package)
    assert g.conditioning == "labels" and g.num_classes == 10
    zeros = g.sample(labels=[0] * 4, seed=1, dtype="float32")
    ones = g.sample(labels=[1] * 4, seed=1, dtype="float32")
    assert not np.array_equal(zeros, ones)                        # the label reaches the network
    # n alone: the balanced labels i mod 10
    assert np.array_equal(g.sample(n=12, seed=2), g.sample(labels=np.arange(12) % 10, seed=2))
    with pytest.raises(UserError, match="0..9"):
        g.sample(labels=[10])
    with pytest.raises(UserError, match="not source images"):
        g.sample(sources=np.zeros((1, 28, 28, 1), np.uint8))


def test_bagan_draws_the_class_gaussians_as_bagan_does(bagan_run):
    """z = mu[y] + L[y] noise inside the network: the images bagan.sampling's generator gives for the
    same noise (its einsum and the network's Dot may round differently in the last bit)."""
    from bagan import sampling
    labels = np.array([0, 0, 3, 7, 9], np.int32)
    theirs = sampling.Generator(bagan_run, cli.read_config(bagan_run), "0")(labels, np.random.default_rng(11))
    ours = generators.load(bagan_run).sample(labels, seed=11)
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_dagan_takes_sources_in_either_scale(request):
    g = load(request, "dagan")
    assert g.conditioning == "sources"
    sources = request_for(g)["sources"]
    as_float = sources.astype(np.float32) / 127.5 - 1
    assert np.array_equal(g.sample(sources=sources, seed=0), g.sample(sources=as_float, seed=0))
    assert np.array_equal(g.sample(sources=sources[..., 0], seed=0), g.sample(sources=sources, seed=0))
    with pytest.raises(UserError, match="sources="):
        g.sample(n=3)
    with pytest.raises(UserError, match=r"\[-1, 1\]"):
        g.sample(sources=as_float * 3)
    with pytest.raises(UserError, match="not labels"):
        g.sample(labels=[0], sources=sources)


def test_cgan_infogan_picks_a_model(cgan_infogan_run):
    assert generators.load(cgan_infogan_run).package == "cgan"                 # the default
    assert generators.load(cgan_infogan_run, "infogan").package == "infogan"
    assert generators.load(cgan_infogan_run / "infogan").package == "infogan"  # a sub-run itself
    with pytest.raises(UserError, match="cgan or infogan"):
        generators.load(cgan_infogan_run, "gan")


def test_infogan_code_to_digit_mapping(cgan_infogan_run, tmp_path):
    g = generators.load(cgan_infogan_run, "infogan")
    # the smoke profile measures no mapping: the codes are not digits and the generator says so
    assert g.code_to_digit is None and "not digits" in g.mapping_note
    with pytest.raises(UserError, match="not digits"):
        g.codes_for([3])
    # a run with a mapping for its checkpoint (as cgan_infogan.generate caches it) exposes it
    run = shutil.copytree(cgan_infogan_run, tmp_path / "run")
    perm = [3, 7, 0, 1, 9, 2, 8, 4, 6, 5]
    cli.write_json_atomic(run / "infogan" / "code_to_digit.json", {"epoch": g.epoch, "code_to_digit": perm})
    mapped = generators.load(run, "infogan")
    assert mapped.code_to_digit == perm
    digits = np.arange(10)
    assert np.array_equal(np.asarray(perm)[mapped.codes_for(digits)], digits)
    # one measured at another epoch does not describe this checkpoint
    cli.write_json_atomic(run / "infogan" / "code_to_digit.json", {"epoch": g.epoch + 1, "code_to_digit": perm})
    assert generators.load(run, "infogan").code_to_digit is None


def test_debias_experiment_uses_its_began_run(began_run, tmp_path):
    from debias import generate
    exp = generate.main(["--profile", "smoke", "--generate", "orig", "--generator", str(began_run),
                         "--out", str(tmp_path)]).parents[1]
    g = generators.load(exp)
    assert g.package == "began"
    assert np.array_equal(g.sample(n=4, seed=9), generators.load(began_run).sample(n=4, seed=9))
    (exp / "fake" / "generator.json").unlink()                     # as before its generate step
    with pytest.raises(UserError, match="no trained generator"):
        generators.load(exp)


def test_debias_experiment_with_a_keras_generator(began_run, tmp_path):
    """De-biasing also takes a .keras generator (here BEGAN's, saved by this API): loaded with the
    prior the experiment recorded, it draws what the BEGAN run draws."""
    from debias import generate
    began = generators.load(began_run)
    saved = began.save(tmp_path / "began.keras")
    exp = generate.main(["--profile", "smoke", "--generate", "orig", "--generator", str(saved),
                         "--out", str(tmp_path / "debias")]).parents[1]
    g = generators.load(exp)
    assert g.package == "debias" and g.prior == "uniform"
    assert np.array_equal(g.sample(n=4, seed=9), began.sample(n=4, seed=9))


def test_not_a_run_is_one_user_error(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        generators.load(tmp_path)
    with pytest.raises(UserError, match="not a folder"):
        generators.load(tmp_path / "missing")
    (tmp_path / "config.json").write_text(json.dumps({"config": {"something": 1}}))
    with pytest.raises(UserError, match="no package"):
        generators.load(tmp_path)


def test_a_run_is_identified_by_the_package_its_config_names(tmp_path):
    config = {"critic_steps": 5, "gp_axes": "sample", "z_dim": 100, "seed": 0}     # keys DAGAN writes
    cli.prepare_run_dir(tmp_path / "new", config, "began")
    assert json.loads((tmp_path / "new" / "config.json").read_text())["package"] == "began"
    assert generators.identify(tmp_path / "new")[0] == "began"
    (tmp_path / "old").mkdir()           # written before config.json named its package: told by its keys
    (tmp_path / "old" / "config.json").write_text(json.dumps({"config": config}))
    assert generators.identify(tmp_path / "old")[0] == "dagan"
    debias_classifier = {"model_train": "baseline", "attribute": "Smiling", "seed": 0}
    cli.prepare_run_dir(tmp_path / "clf", debias_classifier, "debias")
    assert generators.identify(tmp_path / "clf")[2] is generators._debias_classifier


@pytest.mark.parametrize("package", ("bagan", "cgan", "dagan", "began"))
def test_config_only_folder_is_one_user_error(request, package, tmp_path):
    shutil.copy(run_of(request, package) / "config.json", tmp_path / "config.json")
    with pytest.raises(UserError, match="no trained generator"):
        generators.load(tmp_path)


# ---------------------------------------------------------------------------------------------------
# mixed_dataset: real images are all 0, synthetic ones all 255, so each pixel says which it is


def marked(n, value, label_offset=0):
    return np.full((n, 4, 4, 1), value, np.uint8), np.arange(n, dtype=np.int64) + label_offset


def is_real(images):
    flat = images.numpy().reshape(len(images), -1)
    assert np.all((flat == -1) | (flat == 1))
    return flat[:, 0] == -1


@pytest.mark.parametrize("share, batch", [(0.5, 8), (0.3, 10), (0.75, 4)])
def test_mixed_dataset_share_is_exact_with_an_array(share, batch):
    real_x, real_y = marked(40, 0)
    fake_x, fake_y = marked(13, 255, label_offset=1000)
    ds, steps = pipeline.mixed_dataset(real_x, real_y, (fake_x, fake_y), share, batch, seed=1, epochs=2)
    n_real = round(share * batch)
    assert steps == 40 // n_real
    seen = []
    batches = list(ds)
    assert len(batches) == 2 * steps
    for images, labels in batches:
        assert images.dtype == "float32" and labels.dtype == "int64" and images.shape[0] == batch
        real = is_real(images)
        assert real.tolist() == [True] * n_real + [False] * (batch - n_real)
        labels = labels.numpy()
        assert np.all(labels[real] < 1000) and np.all(labels[~real] >= 1000)   # each with its own labels
        seen.append(labels[real])
    first_epoch = np.concatenate(seen[:steps])
    assert len(set(first_epoch)) == len(first_epoch)          # an epoch passes over the real images once


def test_mixed_dataset_is_resumable_and_seeded():
    real_x, real_y = marked(30, 0)
    fake = marked(11, 255, label_offset=1000)
    whole, steps = pipeline.mixed_dataset(real_x, real_y, fake, 0.5, 6, seed=4, epochs=3)
    labels = [y.numpy() for _, y in whole]
    resumed, _ = pipeline.mixed_dataset(real_x, real_y, fake, 0.5, 6, seed=4, start_epoch=2, epochs=1)
    assert all(np.array_equal(a, y.numpy()) for a, (_, y) in zip(labels[2 * steps:], resumed, strict=True))
    other, _ = pipeline.mixed_dataset(real_x, real_y, fake, 0.5, 6, seed=5, epochs=3)
    assert not all(np.array_equal(a, y.numpy()) for a, (_, y) in zip(labels, other))


def test_mixed_dataset_share_is_exact_with_a_generator_function():
    real_x, real_y = marked(24, 0)
    calls = []

    def fake(labels, seed):
        calls.append((labels.copy(), seed))
        return np.full((len(labels), 4, 4, 1), 255, np.uint8)

    ds, steps = pipeline.mixed_dataset(real_x, real_y % 3, fake, 0.25, 8, seed=0, epochs=1)
    batches = list(ds)
    assert len(batches) == steps == 24 // 2
    for (images, labels), (asked, _) in zip(batches, calls[:len(batches)], strict=True):   # (prefetch calls ahead)
        assert is_real(images).tolist() == [True] * 2 + [False] * 6
        assert np.array_equal(labels.numpy()[2:], asked)        # the labels it was asked for
        assert set(asked) <= {0, 1, 2}
    assert len({seed for _, seed in calls}) == len(calls)        # a fresh seed per batch
    again = [y.numpy() for _, y in pipeline.mixed_dataset(real_x, real_y % 3, fake, 0.25, 8, seed=0, epochs=1)[0]]
    assert all(np.array_equal(a, y.numpy()) for a, (_, y) in zip(again, batches))


def test_mixed_dataset_with_a_trained_generator(request):
    g = load(request, "cgan")
    seeds = []

    def fake(labels, seed):
        seeds.append(seed)
        return g.sample(labels, seed=seed)

    real_x, real_y = np.zeros((16, 28, 28, 1), np.uint8), np.arange(16) % 10
    ds, _ = pipeline.mixed_dataset(real_x, real_y, fake, 0.5, 8, epochs=1)
    images, labels = next(iter(ds))
    assert images.shape == (8, 28, 28, 1) and labels.shape == (8,)
    assert np.all(images.numpy()[:4] == -1)
    np.testing.assert_array_equal(pipeline.to_uint8(images.numpy()[4:]), g.sample(labels.numpy()[4:], seed=seeds[0]))


@pytest.mark.parametrize("share", [0.0, 1.0, 0.01])
def test_mixed_dataset_needs_both_kinds_in_a_batch(share):
    real_x, real_y = marked(8, 0)
    with pytest.raises(ValueError, match="at least one"):
        pipeline.mixed_dataset(real_x, real_y, marked(8, 255), share, 8)
