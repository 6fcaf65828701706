"""What `track` writes besides MOT rows: labels and trails on the annotated frames, the WebM
video, OTB-format boxes, the live window's refusal without a display, and the honest scores
of the static and MIL trackers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from attentrack.tracker.draw import Trails, colour_for, draw_label, draw_tracks
from attentrack.tracker.errors import InputError
from attentrack.tracker.sinks import AtomicVideoWriter, OtbSink, ShowSink, can_write, default_video_format
from attentrack.tracker.tracks import Track


def _pixels_of(img, colour):
    return np.all(img == np.array(colour, np.uint8), axis=2)


@pytest.mark.parametrize("x, y", [(-30, 50), (150, 50), (60, 0), (60, -40), (150, 119)])
def test_labels_are_filled_and_stay_inside_the_frame(x, y):
    frame = np.full((120, 160, 3), 255, np.uint8)
    colour = colour_for(3)
    draw_label(frame, "3 0.42", x, y, colour)
    ys, xs = np.nonzero(_pixels_of(frame, colour))
    assert len(xs) > 200  # a filled box, not just thin glyphs
    width = xs.max() - xs.min() + 1
    assert xs.min() >= 0 and xs.max() < 160 and ys.min() >= 0 and ys.max() < 120
    assert width >= 40  # the whole label fits, however close to the edge the box is


def test_label_sits_above_the_box_with_readable_ink():
    frame = np.zeros((120, 160, 3), np.uint8)
    track = Track(1, np.array([40.0, 60.0, 30.0, 40.0]), 0.5)
    out = draw_tracks(frame, [track], 4)
    colour = colour_for(1)
    ys, _ = np.nonzero(_pixels_of(out, colour)[:60])  # above the box's top edge (y = 60)
    assert len(ys) > 200 and ys.max() < 60
    # frame number label in the top-left corner, white ink on dark grey
    assert _pixels_of(out[:20, :40], (40, 40, 40)).sum() > 100


def test_trails_follow_tracks_in_bounded_memory():
    trails = Trails(5)
    frame = np.zeros((100, 200, 3), np.uint8)
    for k in range(20):
        trails.update([Track(7, np.array([10.0 + 5 * k, 20.0, 10.0, 20.0]))])
    assert len(trails._points[7]) == 5
    out = draw_tracks(frame, [Track(7, np.array([105.0, 20.0, 10.0, 20.0]))], None, trails)
    line = _pixels_of(out[38:43], colour_for(7))  # the trail runs along the boxes' bottom (y = 40)
    assert line[:, 80:105].any() and not line[:, :60].any()  # the last 5 centres only
    for _ in range(5):
        trails.update([])
    assert 7 not in trails._points  # forgotten after 5 frames unseen
    with pytest.raises(ValueError):
        Trails(1)


def test_webm_video_plays_back(tmp_path, moving_square_frames):
    if not can_write("webm"):
        pytest.skip("this OpenCV build has no VP8 encoder")
    assert default_video_format() == "webm"
    frames = moving_square_frames(n=6)
    with AtomicVideoWriter(tmp_path / "a.webm", 10, (160, 120)) as video:
        for f in frames:
            video.write(f)
    cap = cv2.VideoCapture(str(tmp_path / "a.webm"))
    assert int(cap.get(cv2.CAP_PROP_FOURCC)) in (cv2.VideoWriter.fourcc(*"VP80"), cv2.VideoWriter.fourcc(*"vp80"), 0)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 6 and (tmp_path / "a.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska/WebM


def test_otb_sink_writes_one_line_per_frame(tmp_path):
    sink = OtbSink(tmp_path / "otb" / "clip.txt")
    frame = np.zeros((10, 10, 3), np.uint8)
    sink.write(0, frame, [Track(1, np.array([1.0, 2.0, 3.5, 4.0]))])
    sink.write(1, frame, [])
    sink.write(2, frame, [Track(2, np.array([9.0, 9.0, 1.0, 1.0])), Track(1, np.array([2.0, 2.0, 3.0, 4.0]))])
    sink.close()
    assert (tmp_path / "otb" / "clip.txt").read_text() == "1,2,3.5,4\n0,0,0,0\n2,2,3,4\n"


def test_show_needs_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(InputError, match="--show needs a display"):
        ShowSink()


def test_static_score_falls_when_the_object_leaves(moving_square_frames):
    from attentrack.tracker.base import create_tracker

    still = moving_square_frames(n=4, step=(0, 0))
    gone = moving_square_frames(n=1, box=(110, 60, 24, 24))  # same background, the square elsewhere
    static = create_tracker("static")
    static.start(still[0], [[20, 30, 24, 24]])
    scores = [static.update(f)[0].score for f in still[1:] + gone]
    assert scores[:3] == pytest.approx([1.0] * 3, abs=1e-4) and scores[3] < 0.2


def test_mil_score_is_not_a_constant(moving_square_frames):
    from attentrack.tracker.base import create_tracker

    frames = moving_square_frames(n=12)
    mil = create_tracker("mil")
    mil.start(frames[0], [[20, 30, 24, 24]])
    scores = [mil.update(f)[0].score for f in frames[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores) and len({round(s, 6) for s in scores}) > 1


@pytest.mark.slow
def test_mil_score_follows_its_overlap_on_real_data(data_dir):
    """On OTB Crossing the MIL box drifts off the pedestrian: its score is higher on the frames
    where the box still overlaps the pedestrian (IoU > 0.5) than where it has lost it (< 0.2)."""
    from attentrack.datasets.sequence import open_sequence
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.boxes import iou

    seq = open_sequence(data_dir / "sot" / "Crossing")
    (_, gt), = seq.tracks().values()
    mil = create_tracker("mil")
    scores, boxes = [], []
    for k, image in seq.frames():
        if k == 0:
            mil.start(image, gt[:1])
            continue
        t = mil.update(image)[0]
        scores.append(t.score)
        boxes.append(t.box.copy())
    scores, overlap = np.array(scores), iou(np.array(boxes), gt[1:])
    assert (overlap > 0.5).any()
    if (overlap < 0.2).any():  # MIL's runs vary; most lose the pedestrian for a while
        assert scores[overlap > 0.5].mean() > scores[overlap < 0.2].mean() + 0.2
