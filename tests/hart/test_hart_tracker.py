"""The HART tracker: shipped weights, following a held-out pedestrian, batching, errors."""

import numpy as np
import pytest
import torch

from attentrack.tracker.base import create_tracker
from attentrack.tracker.errors import InputError
from attentrack.tracker.trackers.hart import SHIPPED_WEIGHTS, HARTTracker

torch.set_num_threads(2)


def test_shipped_weights_load_with_weights_only():
    assert SHIPPED_WEIGHTS.is_file()
    assert SHIPPED_WEIGHTS.stat().st_size < 20 * 1024 * 1024
    payload = torch.load(SHIPPED_WEIGHTS, map_location="cpu", weights_only=True)
    assert {"config", "state_dict"} <= set(payload) and payload["model_id"] == "hart"
    assert payload["config"]["arch"] in ("corr", "paper")


def _frames(n=4, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


def test_tracks_carry_glimpse_mask_and_score():
    tracker = create_tracker("hart", {"device": "cpu"})
    frames = _frames()
    ids = tracker.start(frames[0], [[50, 60, 30, 80], [200, 100, 40, 40]])
    assert ids == [1, 2] and tracker.track_ids == [1, 2]
    tracks = tracker.update(frames[1])
    assert [t.track_id for t in tracks] == [1, 2]
    for t in tracks:
        assert t.box.shape == (4,) and np.all(np.isfinite(t.box)) and np.all(t.box[2:] > 0)
        assert t.glimpse.shape == (4,) and t.glimpse[2] > t.box[2] * 0.5
        assert t.mask.ndim == 2 and 0.0 <= t.mask.min() <= t.mask.max() <= 1.0
        assert 0.0 <= t.score <= 1.0
    tracker.remove([1, 99])
    assert tracker.track_ids == [2] and len(tracker.update(frames[2])) == 1
    assert tracker.start(frames[2], [[10, 10, 20, 20]]) == [3]
    assert [t.track_id for t in tracker.update(frames[3])] == [2, 3]
    tracker.reset()
    assert tracker.track_ids == [] and tracker.update(frames[0]) == []


def test_objects_batched_equal_one_at_a_time():
    frames = _frames(5, seed=3)
    boxes = np.array([[40, 50, 30, 70], [150, 90, 50, 50], [260, 30, 20, 40]], dtype=float)
    together = create_tracker("hart", {"device": "cpu"})
    together.start(frames[0], boxes)
    res = [np.stack([t.box for t in together.update(f)]) for f in frames[1:]]
    for i in range(len(boxes)):
        alone = create_tracker("hart", {"device": "cpu"})
        alone.start(frames[0], boxes[i:i + 1])
        for f, r in zip(frames[1:], res):
            np.testing.assert_allclose(alone.update(f)[0].box, r[i], atol=1e-3)


def test_bad_input(tmp_path):
    tracker = HARTTracker(device="cpu")
    frame = _frames(1)[0]
    with pytest.raises(InputError, match="zero or negative size"):
        tracker.start(frame, [[10, 10, 0, 20]])
    with pytest.raises(InputError):
        tracker.start(frame, [[10, 10, 20]])
    with pytest.raises(InputError, match="not found"):
        HARTTracker(weights=str(tmp_path / "missing.pt"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    with pytest.raises(InputError, match="not a readable torch weights file"):
        HARTTracker(weights=str(corrupt))
    payload = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    key = next(k for k, v in payload["state_dict"].items() if v.ndim == 2)
    payload["state_dict"][key] = torch.zeros(2, 2)
    torch.save(payload, tmp_path / "wrong.pt")
    with pytest.raises(InputError, match="shape"):
        HARTTracker(weights=str(tmp_path / "wrong.pt"))
    with pytest.raises(InputError):
        create_tracker("hart", {"device": "tpu"})


@pytest.mark.data
def test_follows_a_held_out_pedestrian_better_than_static(data_dir):
    """TUD-Campus was never used for training: HART must beat the static box over 20 frames."""
    from attentrack.datasets.sequence import open_sequence
    from attentrack.tracker.boxes import iou

    seq = open_sequence(data_dir / "mot15" / "TUD-Campus")
    frames_gt, boxes_gt = seq.tracks()[2]  # a pedestrian walking across 20+ frames
    n = 21
    tracker = create_tracker("hart", {"device": "cpu"})
    tracker.start(seq.image(int(frames_gt[0]) - 1), boxes_gt[:1])
    pred = [tracker.update(seq.image(int(f) - 1))[0].box for f in frames_gt[1:n]]
    hart_iou = iou(np.stack(pred), boxes_gt[1:n]).mean()
    static_iou = iou(np.repeat(boxes_gt[:1], n - 1, 0), boxes_gt[1:n]).mean()
    assert hart_iou > static_iou + 0.15, (hart_iou, static_iou)
    assert hart_iou > 0.5
