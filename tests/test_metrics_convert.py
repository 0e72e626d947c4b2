"""Reading PyTorch .pth files without torch (both formats) and renaming pytorch-fid's keys."""
import collections
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

from common.errors import UserError
from common.metrics import convert_fid_weights as conv
from tests.conftest import shared_data


class _Storage:
    def __init__(self, key, data):
        self.key, self.data = key, np.ascontiguousarray(data, np.float32).ravel()


class _Tensor:
    """Pickles like a torch tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


@pytest.fixture
def fake_torch(monkeypatch):
    """Just enough of a `torch` module for pickle to write torch's global names."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__, _rebuild_tensor_v2.__qualname__ = "FloatStorage", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2, torch._utils = FloatStorage, _rebuild_tensor_v2, utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _state():
    storage = _Storage("0", np.arange(6))
    return storage, collections.OrderedDict([
        ("a.weight", _Tensor(storage, 0, (2, 3), (3, 1))),
        ("a.transposed", _Tensor(storage, 0, (3, 2), (1, 3))),  # a non-contiguous view
        ("a.tail", _Tensor(storage, 4, (2,), (1,)))])


def _pickle(obj, pid):
    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            return pid(o) if isinstance(o, _Storage) else None
    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _write_zip(path, torch):
    storage, state = _state()
    data = _pickle(state, lambda s: ("storage", torch.FloatStorage, s.key, "cpu", s.data.size))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr(f"archive/data/{storage.key}", storage.data.astype("<f4").tobytes())
        z.writestr("archive/version", "3\n")


def _write_legacy(path, torch):
    storage, state = _state()
    with open(path, "wb") as f:
        for header in (conv.LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(_pickle(state, lambda s: ("storage", torch.FloatStorage, s.key, "cpu", s.data.size, None)))
        pickle.dump([storage.key], f, protocol=2)
        f.write(struct.pack("<q", storage.data.size) + storage.data.astype("<f4").tobytes())


@pytest.mark.parametrize("writer", [_write_zip, _write_legacy])
def test_read_pth_rebuilds_tensors_without_torch(tmp_path, fake_torch, writer):
    path = tmp_path / "w.pth"
    writer(path, fake_torch)
    for name in ("torch", "torch._utils"):
        sys.modules.pop(name)  # the reader must not need torch
    state = conv.read_pth(path)
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(state["a.weight"], base)
    np.testing.assert_array_equal(state["a.transposed"], base.T)
    np.testing.assert_array_equal(state["a.tail"], [4, 5])
    assert state["a.weight"].dtype == np.float32


def test_read_pth_refuses_other_globals(tmp_path):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(print, protocol=2))
    with pytest.raises(UserError, match=r"\.print; only plain tensors"):
        conv.read_pth(path)
    (tmp_path / "text.pth").write_text("not a weight file")
    with pytest.raises(UserError, match="neither a zip"):
        conv.read_pth(tmp_path / "text.pth")


def _torchvision_state(arrays, gamma=None):
    """Inverse renaming: npz arrays -> pytorch-fid (torchvision) keys with a BN scale."""
    state = {}
    for tv, tf_name in conv._name_map().items():
        p = f"net.layers.{tf_name}."
        state[f"{tv}.conv.weight"] = arrays[p + "weight"]
        state[f"{tv}.bn.bias"], state[f"{tv}.bn.running_mean"] = arrays[p + "beta"], arrays[p + "mean"]
        state[f"{tv}.bn.running_var"] = arrays[p + "var"]
        state[f"{tv}.bn.weight"] = np.ones_like(arrays[p + "beta"]) if gamma is None else gamma(tv)
    state["fc.weight"], state["fc.bias"] = np.zeros((1008, 2048)), np.zeros(1008)
    return state


def test_renaming_covers_all_94_units_and_folds_the_bn_scale():
    rng = np.random.default_rng(0)
    arrays = {}
    for tf_name in conv._name_map().values():
        p = f"net.layers.{tf_name}."
        arrays.update({p + "weight": rng.normal(size=(2, 3, 1, 1)), p + "beta": rng.normal(size=2),
                       p + "mean": rng.normal(size=2), p + "var": rng.uniform(0.1, 2, size=2)})
    assert len(arrays) == 376
    gammas = {tv: rng.uniform(0.5, 2, size=2) for tv in conv._name_map()}
    out = conv.to_fid_arrays(_torchvision_state(arrays, gammas.get))
    assert set(out) == set(arrays)
    # the unit conv, BN with scale, ReLU computes the same function after folding
    tv, tf_name = "Mixed_6b.branch7x7dbl_3", "mixed_4.tower_1.conv_2"
    x = rng.normal(size=3)
    p = f"net.layers.{tf_name}."
    w, g = arrays[p + "weight"][:, :, 0, 0], gammas[tv]
    want = g * (w @ x - arrays[p + "mean"]) / np.sqrt(arrays[p + "var"] + 1e-3) + arrays[p + "beta"]
    got = ((out[p + "weight"][:, :, 0, 0] @ x - out[p + "mean"]) / np.sqrt(out[p + "var"] + 1e-3)
           + out[p + "beta"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_renaming_the_real_weights_round_trips_exactly():
    root = shared_data()
    path = root / "fid" / "inception_fid_weights.npz" if root else None
    if path is None or not path.is_file():
        pytest.skip("shared/data/fid not found: set GAN_DATA_DIR or put it in ../shared/data")
    with np.load(path) as z:
        arrays = dict(z.items())
    out = conv.to_fid_arrays(_torchvision_state(arrays))
    assert set(out) == set(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(out[key], value)  # shapes included: kernel orientation kept
