"""Fixtures shared by the evaluation tests: synthetic faces and a tiny judge trained on them."""

import pytest

from csvae.config import DataConfig
from csvae.data.synthetic_faces import load_synthetic_faces
from csvae.evaluate.judge import fit_judge

TINY_JUDGE = {"epochs": 3, "min_steps": 300, "factor_min_steps": 300, "channels": (8, 16, 32), "dense": 32,
              "batch_size": 64}
"""Judge settings small enough for tests."""


@pytest.fixture(scope="session")
def faces():
    """3,000 synthetic faces at 32 px with a seeded split."""
    return load_synthetic_faces(DataConfig(name="synthetic_faces", n_samples=3000, image_size=32))


@pytest.fixture(scope="session")
def judge(faces):
    return fit_judge(faces, **TINY_JUDGE)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tiny nets (faster than two, and much faster on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
