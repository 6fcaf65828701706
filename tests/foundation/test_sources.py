"""Frame sources: files, folders, globs, bad inputs, and the bounded prefetch thread."""

import threading
import time

import numpy as np
import pytest

from attentrack.tracker.errors import InputError
from attentrack.tracker.sources import ImageFilesSource, VideoCaptureSource, open_source, prefetch


def test_video_file(square_clip):
    path, frames = square_clip
    src = open_source(str(path))
    assert isinstance(src, VideoCaptureSource)
    assert src.size == (160, 120) and src.frame_count == len(frames) and not src.live
    got = list(src)
    assert [i for i, _ in got] == list(range(len(frames)))
    # MJPG is lossy: compare loosely
    assert np.abs(got[5][1].astype(int) - frames[5].astype(int)).mean() < 8
    assert len(list(src)) == len(frames), "a source can be iterated twice"


def test_image_folder_and_glob(square_folder):
    folder, frames = square_folder
    for spec in (folder, folder / "img1", str(folder / "img1" / "*.png")):
        src = open_source(spec)
        assert isinstance(src, ImageFilesSource)
        got = list(src)
        assert len(got) == len(frames)
        np.testing.assert_array_equal(got[3][1], frames[3])


def test_natural_order(tmp_path):
    import cv2

    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((4, 4, 3), i, np.uint8))
    src = open_source(tmp_path)
    assert [int(f[0, 0, 0]) for _, f in src] == [1, 2, 10]


def test_missing_empty_and_corrupt(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_source(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images or video"):
        open_source(tmp_path / "empty")
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01 this is not a video" * 100)
    with pytest.raises(InputError, match="corrupt"):
        open_source(bad)
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    with pytest.raises(InputError):
        open_source(zero)
    with pytest.raises(InputError, match="no images match"):
        open_source(str(tmp_path / "*.png"))


def test_corrupt_image_in_folder(square_folder):
    folder, _ = square_folder
    (folder / "img1" / "000005.png").write_bytes(b"garbage")
    src = open_source(folder)
    with pytest.raises(InputError, match="cannot read image"):
        list(src)


def test_prefetch_is_bounded_and_ordered():
    produced = []

    def gen():
        for i in range(100):
            produced.append(i)
            yield i

    it = prefetch(gen(), maxsize=4)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(produced) <= 4 + 2, "the reader must not run ahead of the bounded queue"
    assert list(it) == list(range(1, 100))


def test_prefetch_reraises_and_stops():
    def bad():
        yield 1
        raise InputError("boom")

    it = prefetch(bad())
    assert next(it) == 1
    with pytest.raises(InputError, match="boom"):
        next(it)

    before = threading.active_count()
    it = prefetch(iter(range(10**9)), maxsize=2)
    next(it)
    it.close()
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_open_source_reads_generated_clips():
    from attentrack.tracker.sources import open_source

    src = open_source("synthetic:frames=7,size=64x48,objects=2,seed=3")
    frames = [f for _, f in src]
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3) and frames[0].dtype.name == "uint8"
    assert not all((frames[0] == f).all() for f in frames[1:])  # the squares move


def test_a_video_that_decodes_short_of_its_header_warns_once_at_the_end(square_clip, tmp_path):
    import warnings

    path, frames = square_clip
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])  # the header still announces every frame
    src = open_source(str(cut))
    assert src.frame_count == len(frames)
    with pytest.warns(UserWarning, match=rf"cut: decoding stopped after \d+ of the {len(frames)} frames"):
        decoded = sum(1 for _ in src)
    assert 0 < decoded < len(frames)
    with warnings.catch_warnings():  # a whole file, and a consumer that stops early: no warning
        warnings.simplefilter("error")
        assert sum(1 for _ in open_source(str(path))) == len(frames)
        for index, _ in open_source(str(cut)):
            if index == 2:
                break


class _FakeNetwork:
    """Stands in for ``cv2.VideoCapture`` of a live URL: each opening serves the next planned
    session (a number of frames of a size, or None: the stream cannot be opened)."""

    def __init__(self, sessions):
        self.sessions, self.opened = list(sessions), 0
        network = self

        class Capture:
            def __init__(self, spec):
                network.opened += 1
                plan = network.sessions.pop(0) if network.sessions else None
                self.frames = [] if plan is None else [np.full((plan[1][1], plan[1][0], 3), 7, np.uint8)] * plan[0]
                self.open = plan is not None

            def isOpened(self):
                return self.open

            def read(self):
                return (True, self.frames.pop(0)) if self.frames else (False, None)

            def get(self, prop):
                return 0.0

            def release(self):
                pass

        self.Capture = Capture


def test_a_live_stream_that_drops_is_reopened_and_frames_continue(monkeypatch):
    import attentrack.tracker.sources as sources

    # probe (1 frame), then: 4 frames, lost; one failed reopen; 3 frames at another size, lost; never back
    net = _FakeNetwork([(1, (32, 24)), (4, (32, 24)), None, (3, (64, 48)), None, None])
    monkeypatch.setattr(sources.cv2, "VideoCapture", net.Capture)
    src = open_source("rtsp://camera.local/live", reconnect=2)
    src.reconnect_wait = 0.0
    assert src.live and src.size == (32, 24)
    with pytest.warns(UserWarning) as caught:
        frames = list(src)
    assert [i for i, _ in frames] == list(range(7))  # numbered on across the reconnection
    assert all(f.shape == (24, 32, 3) for _, f in frames)  # the bigger session resized to the first size
    messages = [str(w.message) for w in caught]
    assert sum("reconnecting" in m for m in messages) == 4  # 2 tries after frame 4, 2 after frame 7
    assert any("frames are now 64x48" in m for m in messages)
    assert messages[-1] == "live: could not reconnect; the stream ends after frame 7"


def test_a_recorded_file_and_reconnect_0_end_at_the_first_failed_read(monkeypatch):
    import attentrack.tracker.sources as sources

    net = _FakeNetwork([(1, (32, 24)), (4, (32, 24)), (4, (32, 24))])
    monkeypatch.setattr(sources.cv2, "VideoCapture", net.Capture)
    src = open_source("rtsp://camera.local/live")  # reconnect=0: as before
    assert len(list(src)) == 4 and net.opened == 2
    with pytest.raises(InputError, match="negative"):
        VideoCaptureSource("x", "x", reconnect=-1)
