"""Tests run offline, on CPU, with a private dataset cache."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["GAN_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    os.environ["GAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def shared_data():
    """../shared/data (or $GAN_DATA_DIR) when present."""
    for candidate in (os.environ.get("GAN_DATA_DIR"), ROOT.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def data_root():
    root = shared_data()
    if root is None:
        pytest.skip("real datasets not found: set GAN_DATA_DIR or put them in ../shared/data")
    return root
