"""The Ray backend on a local Ray started by the test: the same outputs as the local pool."""

from __future__ import annotations

import pytest

from attentrack.tracker.batch import BatchOptions, LocalBackend, RayBackend, VideoJob, run_batch

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'attentrack[ray]'); CI installs it")


@pytest.mark.slow
def test_ray_backend_matches_local_pool(tmp_path, output_bytes):
    jobs = [VideoJob("one", "synthetic:frames=40,size=96x64,objects=1,seed=0", ((10.0, 10.0, 16.0, 16.0),)),
            VideoJob("two", "synthetic:frames=30,size=96x64,objects=2,seed=1"),
            VideoJob("bad", str(tmp_path / "missing.mp4"))]
    options = BatchOptions(model="static")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_batch(jobs, options, tmp_path / "ray", RayBackend())
    finally:
        ray.shutdown()
    status = {r.name: (r.status, r.error) for r in summary.results}
    assert status["one"][0] == status["two"][0] == "done"
    assert status["bad"][0] == "failed" and "no such file" in status["bad"][1]
    run_batch(jobs, options, tmp_path / "local", LocalBackend(2))
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
    assert set(output_bytes(tmp_path / "ray")) == {"one.txt", "one.jsonl", "two.txt", "two.jsonl"}
