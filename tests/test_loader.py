"""Batches per rank (csvae.loader), the DDP wrapping of the alternating schedule, FLOP counts, the
refusals of train.devices / num_nodes / strategy / loader and the paper-size presets: all in one
process."""

import dataclasses
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import csvae
from csvae.api import model_from_config
from csvae.config import ConfigError, TrainConfig
from csvae.configfile import load_config
from csvae.data.cache import CacheError, source_guard
from csvae.distributed import ignore_in_ddp, make_fabric
from csvae.flops import count_flops
from csvae.loader import DeviceBatches, StreamBatches, choose_loader
from csvae.nets import ConvEncoder


def rows_seen(loader_class, n, batch, world, epochs, **extra):
    """{(epoch, step): [rows of rank 0, rows of rank 1, ...]} read back from x = row numbers."""
    x = np.arange(n, dtype=np.float32)[:, None].repeat(3, 1)
    y = (np.arange(n) % 2).astype(np.float32)[:, None]
    seen = {}
    for rank in range(world):
        loader = loader_class(x if loader_class is StreamBatches else torch.from_numpy(x),
                              y if loader_class is StreamBatches else torch.from_numpy(y),
                              torch.device("cpu"), batch, rank, world, seed=3, **extra)
        total = epochs * loader.steps_per_epoch
        for step, (xb, yb) in zip(range(total), loader.batches(0, total)):
            rows = xb[:, 0].long()
            assert torch.equal(yb[:, 0], (rows % 2).float())  # labels travel with their rows
            seen.setdefault(step, [None] * world)[rank] = rows.tolist()
    return seen, loader.steps_per_epoch


@pytest.mark.parametrize("loader_class", [DeviceBatches, StreamBatches])
@pytest.mark.parametrize("n,batch,world", [(48, 12, 2), (48, 12, 3), (50, 12, 2), (20, 4, 1)])
def test_every_example_once_per_epoch_across_ranks(loader_class, n, batch, world):
    seen, steps = rows_seen(loader_class, n, batch, world, epochs=2)
    one, _ = rows_seen(DeviceBatches, n, batch, 1, epochs=2)
    for epoch in range(2):
        rows = [r for s in range(epoch * steps, (epoch + 1) * steps) for rank_rows in seen[s] for r in rank_rows]
        assert len(rows) == len(set(rows)) == steps * batch  # each at most once, a full batch per step
        if n % batch == 0:
            assert sorted(rows) == list(range(n))  # and every one when the batch divides n
    for step, per_rank in seen.items():  # the ranks together read the one-process batch
        assert [r for rank_rows in per_rank for r in rank_rows] == one[step][0]
        assert all(len(rank_rows) == batch // world for rank_rows in per_rank)


def test_stream_resumes_mid_epoch_and_stops_its_thread():
    x = np.arange(40, dtype=np.float32)[:, None]
    y = np.zeros((40, 1), np.float32)
    loader = StreamBatches(x, y, torch.device("cpu"), 8, seed=1)
    full = [b[0][:, 0].tolist() for b in loader.batches(0, 12)]
    assert [b[0][:, 0].tolist() for b in loader.batches(7, 12)] == full[7:]
    batches = loader.batches(0, 12)
    next(batches)
    batches.close()  # an error in the loop closes it: the thread must end
    assert not any(t.name == "csvae-stream" and t.is_alive() for t in threading.enumerate())


def test_stream_refuses_a_cache_that_changes(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((16, 1, 2, 2), np.uint8))
    x = np.load(path, mmap_mode="r")
    loader = StreamBatches(x, np.zeros((16, 1), np.float32), torch.device("cpu"), 4, check=source_guard(path))
    batches = loader.batches(0, 8)
    next(batches)
    np.save(tmp_path / "new.npy", np.ones((16, 1, 2, 2), np.uint8))
    os.replace(tmp_path / "new.npy", path)  # a rebuild replaces the file
    with pytest.raises(CacheError, match="changed while this job streamed from it"):
        list(batches)


def test_auto_loader_keeps_what_fits_on_the_device():
    cpu = torch.device("cpu")
    assert choose_loader("auto", 1000, cpu, 1) == "device"
    assert choose_loader("auto", 1 << 60, cpu, 1) == "stream"
    assert choose_loader("device", 1 << 60, cpu, 1) == "device"


def test_flop_count_of_a_tiny_conv_net_matches_a_hand_count():
    b, net = 2, ConvEncoder((3, 32, 32), [4, 8], 16, "batch", 5)
    conv1 = 2 * b * 4 * 16 * 16 * 3 * 5 * 5  # 3 -> 4 channels, 5x5, 32 -> 16 px
    conv2 = 2 * b * 8 * 8 * 8 * 4 * 5 * 5  # 4 -> 8 channels, 16 -> 8 px
    dense = 2 * b * (8 * 8 * 8) * 16
    assert count_flops(lambda: net(torch.zeros(b, 3, 32, 32))) == conv1 + conv2 + dense
    # backward: gradients of the weights of every layer and of the inputs of all but the first
    x = torch.zeros(b, 3, 32, 32)
    assert count_flops(lambda: net(x).sum().backward()) == 3 * (conv1 + conv2 + dense) - conv1


@pytest.fixture
def one_rank_group(tmp_path):
    """A gloo process group of one process: DDP's reducer checks unused parameters all the same."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("name,options", [
    ("vae", {}), ("condvae", {}), ("condvae_info", {}), ("csvae", {}),
    ("csvae", {"w_encoder": "per_subspace", "prior_learned": True}),
    ("csvae", {"likelihood": "calibrated_gaussian", "calibration": "learned", "encoder_objective": "cross_entropy"}),
])
def test_ddp_needs_no_find_unused_parameters(one_rank_group, name, options):
    model = csvae.build_model(name, x_dim=3, y_dim=2, hidden=[8], head_hidden=8, adversary_hidden=[8], **options)
    adversary = model.adversary_parameters()
    ignore_in_ddp(model, adversary)
    net = torch.nn.parallel.DistributedDataParallel(model)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8, 2)).float()
    for _ in range(3):  # a parameter the model loss does not reach fails the second forward
        terms = net(x, y)
        terms["model"].backward()
        if adversary:
            terms["adversary"].backward()
            assert all(p.grad is not None for p in adversary)


def test_ddp_check_would_catch_an_unused_parameter(one_rank_group):
    model = csvae.build_model("vae", x_dim=3, y_dim=1, hidden=[8], head_hidden=8)
    model.unused = torch.nn.Linear(2, 2)
    net = torch.nn.parallel.DistributedDataParallel(model)
    x, y = torch.randn(8, 3), torch.ones(8, 1)
    net(x, y)["model"].backward()
    with pytest.raises(RuntimeError, match="(?i)reduction"):
        net(x, y)["model"].backward()


def test_device_settings_are_refused_with_what_exists(monkeypatch):
    for variable in ("WORLD_SIZE", "SLURM_NTASKS", "JSM_NAMESPACE_SIZE", "MASTER_ADDR", "NODE_RANK",
                     "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(variable, raising=False)
    cores = len(os.sched_getaffinity(0))
    with pytest.raises(ConfigError, match=rf"train.devices is {cores + 1} CPU processes but this machine has "
                                          rf"{cores} CPU cores"):
        make_fabric(TrainConfig(devices=cores + 1, batch_size=(cores + 1) * 2))
    with pytest.raises(ConfigError, match=r"train.devices \[0, 1\] lists GPU indices but train.device is 'cpu'"):
        make_fabric(TrainConfig(devices=[0, 1]))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="train.device is 'cuda' but no CUDA GPU is available"):
            make_fabric(TrainConfig(device="cuda", devices=2))
    with pytest.raises(ConfigError, match=r"train.strategy must be one of \['auto', 'ddp'\], got 'fsdp'"):
        TrainConfig(strategy="fsdp")
    with pytest.raises(ConfigError, match=r"train.loader must be one of \['auto', 'device', 'stream'\]"):
        TrainConfig(loader="disk")
    with pytest.raises(ConfigError, match="train.batch_size 63 is the global batch and must divide evenly over "
                                          "the 2 processes"):
        TrainConfig(devices=2, batch_size=63)
    with pytest.raises(ConfigError, match="train.num_nodes is 2 but this process was not started by a multi-node "
                                          "launcher"):
        make_fabric(TrainConfig(num_nodes=2))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"a launcher started 2 processes, but train.devices x train.num_nodes "
                                          r"is 1"):
        make_fabric(TrainConfig())


@pytest.mark.parametrize("size", [64, 128])
def test_paper_size_presets_build(size):
    """The full-CelebA presets load, and their nets fit their image size (the dense layer is
    shrunk here: the real one holds about 100 M weights)."""
    config = load_config(Path(csvae.__file__).parent / "configs" / "celeba" / f"csvae-paper-{size}.yaml")
    assert (config.data.image_size, config.model.conv_dense, config.model.conv_kernel) == (size, 2048, 5)
    small = dataclasses.replace(config.model, conv_dense=8, head_hidden=8, adversary_hidden=[8])
    model = model_from_config(small, (3, size, size), 1)
    terms = model(torch.zeros(2, 3, size, size, dtype=torch.uint8), torch.tensor([[0.0], [1.0]]))
    assert torch.isfinite(terms["model"])
