"""Convert pytorch-fid's weight file into inception_fid_weights.npz, without PyTorch.

    python -m common.metrics.convert_fid_weights pt_inception-2015-12-05-6726825d.pth out.npz

pytorch-fid (github.com/mseitzer/pytorch-fid, release "fid_weights") ships the TF "2015-12-05"
Inception graph as a state dict in torchvision's naming (`Mixed_5b.branch5x5_1.conv.weight`, ...).
A `.pth` is pickled tensors: either a zip (`*/data.pkl` + one raw file per storage, torch >= 1.6) or
the older single stream (magic number, pickles, then the raw storages). Both are read here with a
restricted unpickler that only rebuilds tensors as numpy arrays, and the keys are renamed to the
TF-graph names of inception_fid_weights.npz (shared/data/fid/ARCHITECTURE.md §7-8).
"""
import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from common.cli import ArgumentParser, main, new_output
from common.errors import UserError

LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32,
          "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
BN_EPS = 1e-3


class _StorageType:
    def __init__(self, name):
        if DTYPES.get(name) is None:
            raise UserError(f"unsupported tensor storage torch.{name} in the weight file")
        self.dtype = np.dtype(DTYPES[name])


class _Tensor:
    """A tensor to materialise once its storage's bytes are known (legacy files store them last)."""

    def __init__(self, storage, offset, size, stride, *_):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self):
        data, itemsize = self.storage(), self.storage.dtype.itemsize
        if not self.size:
            return data[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=tuple(s * itemsize for s in self.stride))
        return np.array(view)


def _rebuild_parameter(data, *_):
    return data


class _Unpickler(pickle.Unpickler):
    """Rebuilds tensors as numpy arrays; refuses every other global (no code runs from the file)."""

    def __init__(self, file, load_storage):
        super().__init__(file)
        self.load_storage = load_storage

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _Tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise UserError(f"the weight file refers to {module}.{name}; only plain tensors are supported")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UserError(f"unexpected persistent id {pid!r} in the weight file")
        return self.load_storage(*pid[1:])


class _Storage:
    """A storage whose bytes are read lazily (the legacy format stores them after the pickle)."""

    def __init__(self, kind, key):
        self.dtype, self.key, self.data = kind.dtype, str(key), None

    def __call__(self):
        if self.data is None:
            raise UserError(f"storage {self.key} has no data in the weight file")
        return self.data


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise UserError(f"{path} is a zip but holds no data.pkl; it is not a PyTorch weight file")
        prefix = pkl[0][:-len("data.pkl")]
        storages = {}

        def load_storage(kind, key, location, numel=None, *_):
            if key not in storages:
                storage = _Storage(kind, key)
                storage.data = np.frombuffer(z.read(f"{prefix}data/{key}"), dtype=kind.dtype.newbyteorder("<"))
                storages[key] = storage
            return storages[key]
        return _Unpickler(io.BytesIO(z.read(pkl[0])), load_storage).load()


def _read_legacy(path):
    with open(path, "rb") as f:
        try:
            magic = _Unpickler(f, None).load()
        except Exception:
            magic = None
        if magic != LEGACY_MAGIC:
            raise UserError(f"{path} is neither a zip nor a legacy PyTorch file; is it a .pth weight file?")
        _Unpickler(f, None).load()  # protocol version
        _Unpickler(f, None).load()  # system info (byte order, type sizes)
        storages = {}

        def load_storage(kind, key, location, numel, view=None):
            if view is not None:
                raise UserError(f"{path}: storage views are not supported")
            return storages.setdefault(key, _Storage(kind, key))
        result = _Unpickler(f, load_storage).load()
        for key in _Unpickler(f, None).load():  # raw storages follow, each as int64 element count + data
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            raw = f.read(numel * storage.dtype.itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return result


def read_pth(path):
    """A PyTorch `.pth` state dict -> {name: numpy array}, without importing torch."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist; download pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
                        "from github.com/mseitzer/pytorch-fid/releases/tag/fid_weights")
    state = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a state dict")
    return {str(k): v.array() if isinstance(v, _Tensor) else np.asarray(v) for k, v in state.items()}


def _name_map():
    """torchvision/pytorch-fid unit name -> TF-graph unit name of inception_fid_weights.npz."""
    names = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
             "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
    a = {"branch1x1": "conv", "branch5x5_1": "tower.conv", "branch5x5_2": "tower.conv_1",
         "branch3x3dbl_1": "tower_1.conv", "branch3x3dbl_2": "tower_1.conv_1",
         "branch3x3dbl_3": "tower_1.conv_2", "branch_pool": "tower_2.conv"}
    b = {"branch3x3": "conv", "branch3x3dbl_1": "tower.conv", "branch3x3dbl_2": "tower.conv_1",
         "branch3x3dbl_3": "tower.conv_2"}
    c = {"branch1x1": "conv", "branch7x7_1": "tower.conv", "branch7x7_2": "tower.conv_1",
         "branch7x7_3": "tower.conv_2", "branch_pool": "tower_2.conv",
         **{f"branch7x7dbl_{i}": "tower_1.conv" + (f"_{i - 1}" if i > 1 else "") for i in range(1, 6)}}
    d = {"branch3x3_1": "tower.conv", "branch3x3_2": "tower.conv_1",
         **{f"branch7x7x3_{i}": "tower_1.conv" + (f"_{i - 1}" if i > 1 else "") for i in range(1, 5)}}
    e = {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
         "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv",
         "branch3x3dbl_2": "tower_1_conv_1", "branch3x3dbl_3a": "tower_1_mixed_conv",
         "branch3x3dbl_3b": "tower_1_mixed_conv_1", "branch_pool": "tower_2_conv"}
    blocks = [("Mixed_5b", "mixed", a), ("Mixed_5c", "mixed_1", a), ("Mixed_5d", "mixed_2", a),
              ("Mixed_6a", "mixed_3", b), ("Mixed_6b", "mixed_4", c), ("Mixed_6c", "mixed_5", c),
              ("Mixed_6d", "mixed_6", c), ("Mixed_6e", "mixed_7", c), ("Mixed_7a", "mixed_8", d),
              ("Mixed_7b", "mixed_9", e), ("Mixed_7c", "mixed_10", e)]
    for tv_block, tf_block, units in blocks:
        names.update({f"{tv_block}.{u}": f"{tf_block}.{v}" for u, v in units.items()})
    return names


def to_fid_arrays(state):
    """Rename a pytorch-fid state dict to the npz keys; a BN scale gamma (1 in the TF graph, which
    has none) is folded into var so that the unit computes the same function."""
    out = {}
    for tv, tf_name in _name_map().items():
        try:
            weight, gamma = state[f"{tv}.conv.weight"], state[f"{tv}.bn.weight"]
            beta, mean, var = (state[f"{tv}.bn.{p}"] for p in ("bias", "running_mean", "running_var"))
        except KeyError as e:
            raise UserError(f"the weight file lacks {e.args[0]}; it is not pytorch-fid's FID Inception") from None
        weight, gamma, beta, mean, var = (np.asarray(x, np.float64) for x in (weight, gamma, beta, mean, var))
        if not np.all(gamma == 1):
            if not np.all(gamma > 0):
                raise UserError(f"{tv}.bn.weight has non-positive entries; cannot express it without a BN scale")
            # gamma (conv - mean) / sqrt(var + eps) = (conv - mean) / sqrt(var' + eps)
            # with var' = (var + eps) / gamma^2 - eps (var' + eps stays positive)
            var = (var + BN_EPS) / gamma ** 2 - BN_EPS
        for param, value in (("weight", weight), ("beta", beta), ("mean", mean), ("var", var)):
            out[f"net.layers.{tf_name}.{param}"] = value.astype(np.float32)
    return out


def convert(pth, out, overwrite=False, check=True):
    out = new_output(out, overwrite)
    if out.suffix != ".npz":
        raise UserError(f"the output must be a .npz file, got {out}")
    arrays = to_fid_arrays(read_pth(pth))
    tmp = out.with_name(out.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    if check:  # loading into the Keras network checks every key and kernel shape
        from common.metrics import inception
        try:
            inception.load_weights(inception.build_network(), tmp)
        except UserError:
            tmp.unlink()
            raise
    os.replace(tmp, out)
    return out


@main
def cli(argv=None):
    parser = ArgumentParser(prog="python -m common.metrics.convert_fid_weights",
                            description=__doc__.split("\n\n")[0])
    parser.add_argument("pth", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument("out", help="the .npz to write (e.g. <data dir>/fid/inception_fid_weights.npz)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    print(f"wrote {convert(args.pth, args.out, args.overwrite)}")


if __name__ == "__main__":
    cli()
