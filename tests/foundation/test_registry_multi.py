"""The tracker registry (adding a tracker is one class) and proposal-started tracks."""

import numpy as np
import pytest

from attentrack.tracker.base import SingleObjectTracker, Tracker, available_trackers, create_tracker, tracker_params
from attentrack.tracker.errors import InputError
from attentrack.tracker.proposals import create_proposer
from attentrack.tracker.registry import PROPOSERS, TRACKERS
from attentrack.tracker.runner import multi_object_tracker


def test_builtin_trackers_registered():
    names = available_trackers()
    assert {"static", "mil"} <= set(names)
    assert all(issubclass(c, Tracker) for c in names.values())


def test_adding_a_tracker_is_one_class():
    class Drift(SingleObjectTracker):
        """Moves every box right by ``speed`` pixels per frame."""

        tracker_id = "test-drift"

        def __init__(self, speed: float = 1.0) -> None:
            """Args:
                speed: pixels per frame.
            """
            super().__init__()
            self.speed = speed

        def init_one(self, frame, box):
            return np.asarray(box, float)

        def update_one(self, state, frame):
            state = state + [self.speed, 0, 0, 0]
            return state, 1.0

    try:
        assert "test-drift" in available_trackers()
        params = {p.name: p for p in tracker_params(Drift)}
        assert params["speed"].default == 1.0 and "pixels" in params["speed"].help
        t = create_tracker("test-drift", {"speed": "2.5"})  # strings from the command line are coerced
        frame = np.zeros((10, 10, 3), np.uint8)
        ids = t.start(frame, [[1, 1, 2, 2], [3, 3, 2, 2]])
        assert ids == [1, 2]
        tracks = t.update(frame)
        np.testing.assert_allclose(tracks[0].box, [3.5, 1, 2, 2])
        t.remove([1])
        assert t.track_ids == [2]
        with pytest.raises(InputError, match="speed"):
            create_tracker("test-drift", {"speed": "fast"})
        with pytest.raises(InputError, match="has no option"):
            create_tracker("test-drift", {"sped": "1"})
    finally:
        TRACKERS.unregister("test-drift")


def test_unknown_tracker():
    with pytest.raises(InputError, match="unknown model"):
        create_tracker("no-such-model")


@pytest.mark.slow
def test_mog2_proposals_start_and_end_tracks(moving_square_frames):
    """A square crosses a still background: one track starts after a few frames, follows
    it and ends once it has left."""

    moving = moving_square_frames(n=80, size=(200, 120), box=(-20, 40, 20, 20), step=(4, 0))
    blank = moving_square_frames(n=1, size=(200, 120), box=(-50, 0, 1, 1), step=(0, 0))[0]
    frames = [blank] * 15 + moving
    assert "mog2" in PROPOSERS
    runner = multi_object_tracker(create_tracker("mil"), create_proposer("mog2"))
    seen = []
    for f in frames:
        seen.append([(t.track_id, t.box.copy()) for t in runner.update(f)])
    ids = {tid for frame in seen for tid, _ in frame}
    assert 1 <= len(ids) <= 2
    # while the square is fully visible (frames 25..50 of the clip), a track covers it
    from attentrack.tracker.boxes import iou

    covered = 0
    for k in range(30, 60):
        truth = np.array([[(k - 15) * 4 - 20, 40, 20, 20]], float)
        if any(iou(b[None], truth)[0] > 0.3 for _, b in seen[k]):
            covered += 1
    assert covered >= 20
    assert seen[-1] == [], "the track ends after the object leaves"
