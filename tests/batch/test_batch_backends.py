"""Backend choices that need no cluster: GPU requests, worker environment, the registry."""

from __future__ import annotations

import pytest

from attentrack.tracker.batch import BatchOptions, LocalBackend, RayBackend, create_backend
from attentrack.tracker.batch.backends import describe_exit
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKENDS


class _FakeRay:
    def __init__(self, gpus: float) -> None:
        self.gpus = gpus

    def cluster_resources(self):
        return {"CPU": 8.0, "GPU": self.gpus} if self.gpus else {"CPU": 8.0}


@pytest.mark.parametrize("model, device, cluster_gpus, expected", [
    ("hart", "cuda", 0, 1),      # asked for CUDA: each task reserves a GPU
    ("hart", "auto", 2, 1),      # auto on a cluster with GPUs
    ("hart", "auto", 0, 0),
    ("hart", "cpu", 2, 0),
    ("static", "auto", 2, 0),    # a model without a device option never needs one
])
def test_gpu_requests(model, device, cluster_gpus, expected):
    params = (("device", device),) if model == "hart" else ()
    assert RayBackend()._gpus(_FakeRay(cluster_gpus), BatchOptions(model=model, params=params)) == expected


def test_registry_and_exit_descriptions():
    assert set(BACKENDS) >= {"local", "ray"}
    assert isinstance(create_backend("local", workers=3), LocalBackend) and create_backend("local", 3).workers == 3
    assert create_backend("ray", address="ray://head:10001").address == "ray://head:10001"
    with pytest.raises(InputError, match="unknown backend"):
        create_backend("slurm")
    assert describe_exit(-9) == "worker killed by signal SIGKILL"
    assert describe_exit(-11) == "worker killed by signal SIGSEGV"
    assert "status 3" in describe_exit(3)
