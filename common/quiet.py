"""TensorFlow without its C++ start-up lines on the terminal.

TensorFlow's native code writes its start-up log (absl's "before InitializeLog" warning, oneDNN,
CUDA probing) straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL takes effect, so Python
cannot filter it. `install()` puts a finder on sys.meta_path that runs the first `import tensorflow`
(and the device discovery, where cuInit complains on a machine without a GPU) with descriptor 2
pointed at /dev/null. Python errors are not affected: they are raised after stderr is restored.
Set GAN_TF_LOGS=1 to see TensorFlow's lines again (e.g. to debug a GPU set-up).
"""
import contextlib
import importlib.abc
import importlib.util
import os
import sys


@contextlib.contextmanager
def silenced_stderr():
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)             # once, and the real finders do the finding
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def __getattr__(self, name):       # get_resource_reader, is_package, ...: the real loader's
        if "loader" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["loader"], name)

    def exec_module(self, module):
        with silenced_stderr():
            self.loader.exec_module(module)
            module.config.list_physical_devices()      # CUDA probing prints here


def install():
    if os.environ.get("GAN_TF_LOGS", "") in ("", "0") and "tensorflow" not in sys.modules \
            and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
