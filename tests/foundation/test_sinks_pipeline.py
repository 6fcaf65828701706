"""Sinks are atomic; the pipeline runs any registered tracker; bounded memory on long streams."""

import json

import numpy as np
import pytest

from attentrack.datasets.mot import read_mot
from attentrack.tracker.base import Track, create_tracker
from attentrack.tracker.errors import InputError
from attentrack.tracker.pipeline import run_tracking
from attentrack.tracker.sinks import CropSink, JsonlSink, MotTxtSink, VideoSink
from attentrack.tracker.sources import FrameSource, open_source


def _tracks():
    return [Track(1, np.array([10.0, 20, 30, 40]), 0.9, glimpse=np.array([0.0, 5, 60, 70]), mask=np.ones((8, 8)) * 0.7),
            Track(2, np.array([50.0, 60, 20, 20]), 0.5)]


def test_sinks_publish_on_close(tmp_path):
    frame = np.zeros((120, 160, 3), np.uint8)
    sinks = [MotTxtSink(tmp_path / "a.txt"), JsonlSink(tmp_path / "a.jsonl"), VideoSink(tmp_path / "a.mp4", 10, (160, 120)),
             CropSink(tmp_path / "crops")]
    for i in range(3):
        for s in sinks:
            s.write(i, frame, _tracks())
        assert not (tmp_path / "a.txt").exists(), "nothing appears under the final name before close"
    outs = [p for s in sinks for p in s.close()]
    assert all(p.exists() for p in outs)
    rows = read_mot(tmp_path / "a.txt")
    assert len(rows) == 6 and rows.frames.min() == 1 and set(rows.ids) == {1, 2}
    np.testing.assert_allclose(rows.boxes[0], [10, 20, 30, 40])
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert lines[0]["frame"] == 1 and lines[0]["tracks"][0]["glimpse"] == [0.0, 5.0, 60.0, 70.0]
    assert len(list((tmp_path / "crops" / "1").glob("*.jpg"))) == 3
    assert not [p for p in tmp_path.rglob("*partial*")]


def test_sinks_abort_leaves_nothing(tmp_path):
    frame = np.zeros((120, 160, 3), np.uint8)
    sinks = [MotTxtSink(tmp_path / "a.txt"), JsonlSink(tmp_path / "a.jsonl"), VideoSink(tmp_path / "a.mp4", 10, (160, 120)),
             CropSink(tmp_path / "crops")]
    for s in sinks:
        s.write(0, frame, _tracks())
        s.abort()
    assert list(tmp_path.iterdir()) == []


def test_static_tracker_through_pipeline(tmp_path, square_clip):
    path, frames = square_clip
    src = open_source(path)
    tracker = create_tracker("static")
    summary = run_tracking(src, tracker, [MotTxtSink(tmp_path / "out.txt")], init_boxes=[[20, 30, 24, 24]], progress=False)
    assert summary.frames == len(frames) and summary.tracks == 1
    rows = read_mot(tmp_path / "out.txt")
    assert len(rows) == len(frames)
    np.testing.assert_allclose(rows.boxes, np.tile([20, 30, 24, 24], (len(frames), 1)), atol=0.01)


@pytest.mark.slow
def test_mil_follows_moving_square(tmp_path, square_clip):
    from attentrack.tracker.boxes import iou

    path, frames = square_clip
    tracker = create_tracker("mil")
    summary = run_tracking(open_source(path), tracker, [MotTxtSink(tmp_path / "out.txt")], init_boxes=[[20, 30, 24, 24]],
                           progress=False)
    rows = read_mot(tmp_path / "out.txt")
    truth = np.array([[20 + 3 * i, 30 + i, 24, 24] for i in range(len(frames))], float)
    static = np.tile([20, 30, 24, 24], (len(frames), 1))
    assert summary.frames == len(frames)
    assert iou(rows.boxes, truth).mean() > iou(static, truth).mean() + 0.2


class _Failing(FrameSource):
    name, size, frame_count = "failing", (160, 120), 10

    def __iter__(self):
        for i in range(3):
            yield i, np.zeros((120, 160, 3), np.uint8)
        raise InputError("stream broke")


def test_pipeline_error_leaves_no_output(tmp_path):
    sinks = [MotTxtSink(tmp_path / "o.txt"), VideoSink(tmp_path / "o.mp4", 10, (160, 120))]
    with pytest.raises(InputError, match="stream broke"):
        run_tracking(_Failing(), create_tracker("static"), sinks, init_boxes=[[1, 1, 10, 10]], progress=False)
    assert list(tmp_path.iterdir()) == []


def test_pipeline_rejects_bad_boxes(tmp_path, square_clip):
    path, _ = square_clip
    with pytest.raises(InputError):
        run_tracking(open_source(path), create_tracker("static"), [], init_boxes=[[1000, 1000, 10, 10]], progress=False)
    with pytest.raises(InputError):
        run_tracking(open_source(path), create_tracker("static"), [], progress=False)


class _Endless(FrameSource):
    """A synthetic stream of ``n`` frames generated on the fly (never stored)."""

    name, size, frame_count, live = "endless", (64, 48), None, True

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        frame = np.zeros((48, 64, 3), np.uint8)
        for i in range(self.n):
            frame[:] = i % 255
            yield i, frame.copy()


def test_long_stream_memory_is_bounded():
    """Python heap after 1,000 vs 10,000 frames of the pipeline: no per-frame growth."""
    import tracemalloc

    def peak(n):
        tracemalloc.start()
        run_tracking(_Endless(n), create_tracker("static"), [], init_boxes=[[5, 5, 10, 10]], progress=False)
        _, p = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return p

    small, large = peak(1000), peak(10000)
    assert large < small * 1.5 + 200_000, (small, large)


class _Stream(FrameSource):
    """Frames (of a square), as a live (camera-like) or a recorded source."""

    def __init__(self, live: bool, frames):
        self.live, self.name, self.size, self._frames = live, "cam", (160, 120), frames

    def __iter__(self):
        yield from enumerate(self._frames)


class _StopAt:
    """A tracker wrapper that is interrupted (as by Ctrl-C) at frame ``stop``."""

    def __init__(self, stop: int):
        self.inner, self.stop, self.seen = create_tracker("static"), stop, 0

    def start(self, frame, boxes):
        self.seen += 1
        return self.inner.start(frame, boxes)

    def update(self, frame):
        if self.seen == self.stop:
            raise KeyboardInterrupt
        self.seen += 1
        return self.inner.update(frame)


@pytest.mark.parametrize("live", [True, False])
def test_ctrl_c_keeps_a_live_runs_outputs_and_drops_a_recorded_ones(tmp_path, live, moving_square_frames):
    sinks = [MotTxtSink(tmp_path / "o.txt")]
    stream = _Stream(live, moving_square_frames(n=10))
    if live:
        with pytest.warns(UserWarning, match="cam: interrupted; the outputs cover the first 4 frames"):
            summary = run_tracking(stream, _StopAt(4), sinks, init_boxes=[[20, 30, 24, 24]], progress=False)
        assert summary.frames == 4 and sorted(set(read_mot(tmp_path / "o.txt").frames)) == [1, 2, 3, 4]
    else:
        with pytest.raises(KeyboardInterrupt):
            run_tracking(stream, _StopAt(4), sinks, init_boxes=[[20, 30, 24, 24]], progress=False)
        assert list(tmp_path.iterdir()) == []


def test_atomic_video_writer_publishes_on_success_and_leaves_nothing_on_error(tmp_path):
    import cv2

    from attentrack.tracker.sinks import AtomicVideoWriter

    frame = np.zeros((48, 64, 3), np.uint8)
    with AtomicVideoWriter(tmp_path / "ok.avi", 10, (64, 48)) as video:
        for i in range(5):
            frame[:, :] = 40 * i
            video.write(frame)
        video.write(np.zeros((24, 32, 3), np.uint8))  # another size is resized
    cap = cv2.VideoCapture(str(tmp_path / "ok.avi"))
    sizes = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        sizes.append(img.shape)
    cap.release()
    assert sizes == [(48, 64, 3)] * 6
    with pytest.raises(RuntimeError):
        with AtomicVideoWriter(tmp_path / "broken.avi", 10, (64, 48)) as video:
            video.write(frame)
            raise RuntimeError("the source failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.avi"]
    with pytest.raises(InputError, match="must end in"):
        AtomicVideoWriter(tmp_path / "x.gif", 10, (64, 48))
