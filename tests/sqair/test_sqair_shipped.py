"""The shipped Moving MNIST weights: load safely, count better than chance on test digits,
track a Moving MNIST video through ``track --model sqair -p mode=intensity``, and report the
identities it follows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from attentrack.tracker.trackers.sqair import SHIPPED_WEIGHTS

pytestmark = pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="shipped SQAIR weights missing")


def test_weights_load_with_weights_only():
    ck = torch.load(SHIPPED_WEIGHTS, map_location="cpu", weights_only=True)
    assert ck["model_id"] == "sqair"
    assert SHIPPED_WEIGHTS.stat().st_size < 20 * 2**20


def test_counts_test_digits_better_than_always_one(data_dir):
    from attentrack.datasets.moving_mnist import load_digits
    from attentrack.tracker.sqair.evaluate import evaluate_moving_mnist
    from attentrack.tracker.sqair.model import load_weights

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        ev = evaluate_moving_mnist(load_weights(SHIPPED_WEIGHTS), load_digits("test", data_dir), sequences=20,
                                   n_frames=4, particles=2, batch=10, seed=7)
    finally:
        torch.set_num_threads(threads)
    # the counts are uniform on 0, 1, 2: always answering 1 is right a third of the time
    assert max(r.count_accuracy for r in ev.readouts) > 0.4, ev.format_table()
    assert [r.readout for r in ev.readouts] == ["raw", "merged", "weighted"]
    for r in ev.readouts:  # the confusion table holds every frame (weighted: fractions); its diagonal is the accuracy
        conf = np.array(r.count_confusion)
        assert conf.shape == (3, 4) and conf.sum() == pytest.approx(ev.frames)
        assert np.trace(conf[:, :3]) / ev.frames == pytest.approx(r.count_accuracy)
        wrong = ev.frames - np.trace(conf[:, :3])
        assert r.errors_from_start + r.errors_later == pytest.approx(wrong)
    assert np.isfinite(ev.iwae_per_frame)


def test_track_a_moving_mnist_video(tmp_path, data_dir, run_cli):
    from attentrack.datasets.moving_mnist import MovingMnist, load_digits

    seq = MovingMnist(load_digits("test", data_dir), n_frames=6).sample(
        np.random.default_rng(0), 1, n_digits=np.array([1]))
    path = tmp_path / "mm.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (50, 50))
    for f in seq.frames[0]:
        vw.write(cv2.cvtColor((f * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
    vw.release()
    code, _, err = run_cli(["track", path, "-m", "sqair", "-p", "mode=intensity", "-o", tmp_path / "o", "-q",
                            "--no-video"])
    assert code == 0, err
    rows = [ln.split(",") for ln in (tmp_path / "o" / "mm.txt").read_text().splitlines()]
    assert rows, "no objects found in a video with one digit"
    assert all(0 <= float(r[2]) < 50 and 0 <= float(r[3]) < 50 for r in rows)


@pytest.mark.parametrize("particles", [1, 2])
def test_track_ids_are_the_reported_particles_objects(particles, one_thread):
    from attentrack.tracker.base import create_tracker

    tracker = create_tracker("sqair", {"mode": "intensity", "particles": str(particles)})
    assert tracker.track_ids == []
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[8:28, 10:24] = 255
    frame[38:58, 36:50] = 255
    tracker.start(frame, np.zeros((0, 4)))
    for _ in range(3):
        reported = {t.track_id for t in tracker.update(frame)}
    ids = tracker.track_ids
    assert reported and reported <= set(ids)
    assert all(isinstance(i, int) and i > 0 for i in ids) and len(set(ids)) == len(ids)
    tracker.reset()
    assert tracker.track_ids == []
