"""Camera-motion check: a shifting background is told from a static one with moving objects,
on synthetic clips (known shifts) and on real footage."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from attentrack.tracker.camera_motion import MIN_CORNERS, WORK_SIDE, CameraMotionCheck, pair_motion


def _panning(n: int, step: int, size=(320, 240)) -> list[np.ndarray]:
    """``n`` crops of a wide textured scene, each ``step`` pixels to the right of the last."""
    w, h = size
    rng = np.random.default_rng(1)
    scene = cv2.GaussianBlur(rng.uniform(0, 255, (h, w + n * step, 3)), (0, 0), 1.5).astype(np.uint8)
    return [np.ascontiguousarray(scene[:, i * step:i * step + w]) for i in range(n)]


def _still_with_mover(n: int) -> list[np.ndarray]:
    """``n`` frames of a static textured scene crossed by a bright 40 x 40 square at 4 px a frame."""
    scene = _panning(1, 0)[0]
    frames = []
    for i in range(n):
        f = scene.copy()
        f[100:140, 20 + 4 * i:60 + 4 * i] = 230
        frames.append(f)
    return frames


def test_pair_motion_measures_a_pan_in_share_of_the_longer_side():
    a, b = _panning(2, 4)
    pan = pair_motion(a, b)
    assert pan.shift == pytest.approx(4 / 320, abs=0.5 / 320) and pan.still_share < 0.05
    assert pan.corners >= MIN_CORNERS
    same = pair_motion(a, a)
    assert same.shift == pytest.approx(0.0, abs=1e-4) and same.still_share > 0.95


def test_a_larger_frame_is_measured_at_the_working_width():
    a, b = (cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) for f in _panning(2, 4))
    assert pair_motion(a, b).shift == pytest.approx(4 / 320, abs=0.5 / 320)  # 8 px at 640 = 4 px at 320


def test_blank_frames_have_no_motion_and_leave_the_check_undecided():
    blank = np.zeros((120, 160, 3), np.uint8)
    assert pair_motion(blank, blank) is None
    check = CameraMotionCheck(pairs=3)
    for _ in range(6):
        assert check.update(blank) is None
    assert check.finish() is None and not check.decided and check.pairs_seen == 0


def test_a_moving_object_on_a_static_background_is_a_static_camera():
    check = CameraMotionCheck(pairs=10)
    for frame in _still_with_mover(12):
        check.update(frame)
    assert check.decided and check.moving is False
    assert check.still_share > 0.8 and check.shift < 0.05 / WORK_SIDE


def test_a_panning_camera_is_moving_and_the_check_stops_looking():
    check = CameraMotionCheck(pairs=5)
    frames = _panning(12, 2)
    answers = [check.update(f) for f in frames]
    assert answers[:5] == [None] * 5 and answers[5] is True  # decided on the 5th pair
    assert check.shift * WORK_SIDE == pytest.approx(2.0, abs=0.3)
    assert check.pairs_seen == 5 and check.update(frames[0]) is True  # no further look
    message = check.message("the blobs baseline")
    assert "0% of the image's corners stay still" in message and "2.0 px" in message
    assert message.endswith("the blobs baseline assumes a static camera")


def test_a_few_corners_on_a_moving_object_over_a_blank_scene_decide_nothing(moving_square_frames):
    """A dark, textureless scene whose only corners are on a passer-by: no guess."""
    check = CameraMotionCheck(pairs=5)
    for frame in moving_square_frames(n=12):
        check.update(frame)
    assert check.finish() is None


def test_a_short_clip_is_decided_at_finish():
    check = CameraMotionCheck(pairs=20)
    for f in _panning(4, 3):
        check.update(f)
    assert not check.decided and check.pairs_seen == 3
    assert check.finish() is True


def test_real_footage_static_and_moving_cameras(data_dir):
    from attentrack.tools.camera_cmd import measure_source

    def verdict(spec):
        return measure_source(str(spec)).moving

    assert verdict(data_dir / "mot15" / "TUD-Campus" / "TUD-Campus.mp4") is False  # people walk, camera still
    assert verdict(data_dir / "sot" / "Crossing") is False
    assert verdict(data_dir / "kitti") is True  # from a driving car
    assert verdict(data_dir / "sot" / "bag") is True  # hand-held


def test_the_pipeline_warns_once_for_a_moving_camera_and_not_for_a_static_one(tmp_path, write_video):
    from attentrack.tracker.base import create_tracker
    from attentrack.tracker.pipeline import run_tracking
    from attentrack.tracker.sources import open_source

    write_video(tmp_path / "pan.avi", _panning(30, 2))
    write_video(tmp_path / "still.avi", _still_with_mover(25))
    with pytest.warns(UserWarning, match="camera seems to move.*the blobs baseline") as caught:
        run_tracking(open_source(str(tmp_path / "pan.avi")), create_tracker("blobs"), init_boxes=[],
                     progress=False, static_camera_user="the blobs baseline")
    assert sum("camera seems to move" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_tracking(open_source(str(tmp_path / "still.avi")), create_tracker("blobs"), init_boxes=[],
                     progress=False, static_camera_user="the blobs baseline")


@pytest.mark.slow
def test_track_warns_once_when_its_model_assumes_a_static_camera(tmp_path, run_cli, write_video):

    write_video(tmp_path / "pan.avi", _panning(25, 2))
    with pytest.warns(UserWarning, match="the blobs baseline assumes a static camera") as caught:
        code, _, err = run_cli(["track", tmp_path / "pan.avi", "-m", "blobs", "-o", tmp_path / "b", "-q"])
    assert code == 0, err
    assert sum("camera seems to move" in str(w.message) for w in caught) == 1
    with pytest.warns(UserWarning, match=r"background subtraction \(--proposals mog2\)"):
        code, _, err = run_cli(["track", tmp_path / "pan.avi", "-m", "static", "-o", tmp_path / "s", "-q"])
    assert code == 0, err
    with warnings.catch_warnings():  # given boxes: nothing assumes a static camera
        warnings.simplefilter("error")
        code, _, err = run_cli(["track", tmp_path / "pan.avi", "-m", "static", "--init", "10,10,30,30",
                                "-o", tmp_path / "i", "-q"])
    assert code == 0, err


def test_which_trackers_assume_a_static_camera():
    from attentrack.tracker.base import create_tracker

    assert create_tracker("blobs").static_camera_user == "the blobs baseline"
    assert create_tracker("sqair").static_camera_user == "SQAIR's CCTV mode"
    assert create_tracker("sqair", {"mode": "intensity"}).static_camera_user == ""
    assert create_tracker("static").static_camera_user == ""
