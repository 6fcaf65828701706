"""``face-attention`` follows a held-out person's face moving over a real background, shows
its canonical reconstruction in the annotated video, and rejects bad options."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.generative.face.model import SHIPPED_WEIGHTS
from attentrack.tracker.base import create_tracker
from attentrack.tracker.boxes import iou
from attentrack.tracker.errors import InputError

pytestmark = pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="shipped face weights absent")


def _moving_face_frames(data_dir, n=8):
    from attentrack.datasets.orl import load_orl
    from attentrack.generative.face.scenes import face_squares, load_backgrounds
    from attentrack.generative.face.transform import paste_face

    faces = load_orl(data_dir / "faces" / "orl").subset([35])
    face = face_squares(faces)[0]
    bg = load_backgrounds(data_dir, "test")[0][:120, :160].copy()
    frames, truth = [], []
    for t in range(n):
        u = np.array([60.0 + 3 * t, 58.0 + t, 50.0, 0.02 * t])
        img = paste_face(bg, face, u)
        frames.append(np.repeat((img * 255).astype(np.uint8)[..., None], 3, axis=2))
        truth.append(u)
    return frames, np.array(truth)


def test_follows_a_moving_face_and_draws_the_reconstruction(data_dir, one_thread):
    from attentrack.generative.face.transform import u_to_box
    from attentrack.tracker.draw import draw_tracks

    frames, truth = _moving_face_frames(data_dir)
    tracker = create_tracker("face-attention", {"chains": "3", "steps": "8", "threads": "0"})
    boxes = u_to_box(truth)
    tracker.start(frames[0], boxes[:1])
    ious = []
    for frame, box in zip(frames[1:], boxes[1:]):
        (track,) = tracker.update(frame)
        ious.append(float(iou(track.box[None], box[None])[0]))
        assert 0.0 < track.score < 1.0
    assert np.mean(ious) > 0.6, ious
    assert track.inset is not None and track.inset.shape == (24, 24) and track.inset.dtype == np.uint8
    drawn = draw_tracks(frames[-1], [track])
    assert drawn.shape == frames[-1].shape and not np.array_equal(drawn, frames[-1])


def test_bad_options_and_frames(data_dir):
    with pytest.raises(InputError):
        create_tracker("face-attention", {"chains": "0"})
    with pytest.raises(InputError):
        create_tracker("face-attention", {"max_zoom": "2"})
    tracker = create_tracker("face-attention", {"threads": "0"})
    with pytest.raises(InputError):
        tracker.start(np.zeros((50, 50, 3), np.float32), [[1, 1, 10, 10]])
