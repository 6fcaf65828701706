"""Detections for the runner: det.txt files (validation, lookup), models as detectors, and
MOG2 proposals whose sizes follow the objects rather than the frame."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from attentrack.tracker.detections import DetectionFile, ModelDetections, find_detections
from attentrack.tracker.errors import InputError
from attentrack.tracker.foreground import group_fragments, median_background, split_side_by_side
from attentrack.tracker.proposals import MOG2Proposer, ObjectSizes, commonest_ratio
from attentrack.tracker.runner import MultiObjectTracker, multi_object_tracker


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_det_file_serves_each_frame_and_drops_low_scores(tmp_path):
    det = _write(tmp_path / "det.txt", "2,-1,10,20,30,40,0.9,-1,-1,-1\n1,-1,1,2,3,4,0.2\n2,-1,5,5,5,5,0.1\n")
    rows = DetectionFile(det)
    boxes, scores = rows.at(1)  # 0-based index 1 = MOTChallenge frame 2
    np.testing.assert_allclose(boxes, [[10, 20, 30, 40], [5, 5, 5, 5]])
    np.testing.assert_allclose(scores, [0.9, 0.1])
    assert rows.at(5)[0].shape == (0, 4)
    kept = DetectionFile(det, score_threshold=0.5)
    assert len(kept) == 1 and kept.at(0)[0].shape == (0, 4)


@pytest.mark.parametrize("text, message", [
    ("1,-1,1,2,3\n", "needs at least 7 values"),
    ("1,-1,a,2,3,4,1\n", "not a number"),
    ("0,-1,1,2,3,4,1\n", "1-based"),
    ("1.5,-1,1,2,3,4,1\n", "integer"),
    ("1,-1,1,2,0,4,1\n", "positive width"),
    ("1,-1,1,2,nan,4,1\n", "non-finite"),
])
def test_malformed_det_rows_name_file_and_line(tmp_path, text, message):
    det = _write(tmp_path / "det.txt", "1,-1,1,1,5,5,1\n" + text)
    with pytest.raises(InputError, match=message) as info:
        DetectionFile(det)
    assert f"{det}:2:" in str(info.value) and "\n" not in str(info.value)


def test_a_header_of_column_names_is_skipped_but_only_as_the_first_row(tmp_path):
    header = "frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z\n"
    rows = DetectionFile(_write(tmp_path / "det.txt", header + "1,-1,1,2,3,4,67.5,-1,-1,-1\n"))
    np.testing.assert_allclose(rows.at(0)[0], [[1, 2, 3, 4]])
    late = _write(tmp_path / "late.txt", "1,-1,1,2,3,4,1\n" + header)
    with pytest.raises(InputError, match=f"{late}:2: not a number"):
        DetectionFile(late)


def test_frames_past_the_video_are_an_error_naming_the_line(tmp_path):
    det = _write(tmp_path / "det.txt", "1,-1,1,1,5,5,1\n# comment\n\n9,-1,1,1,5,5,1\n4,-1,1,1,5,5,1\n")
    rows = DetectionFile(det)
    rows.check_length(9)
    rows.check_length(None)  # unknown length: nothing to check
    with pytest.raises(InputError, match=r"det.txt:4: frame 9 is past the video's last frame \(5\)"):
        rows.check_length(5)


def test_empty_det_file_warns_and_missing_one_errs(tmp_path):
    det = _write(tmp_path / "det.txt", "")
    with pytest.warns(UserWarning, match="no detections"):
        rows = DetectionFile(det)
    assert len(rows) == 0
    with pytest.raises(InputError, match="not found"):
        DetectionFile(tmp_path / "none.txt")


def test_detections_auto_finds_the_sequence_det_file(tmp_path):
    seq = tmp_path / "SEQ"
    (seq / "det").mkdir(parents=True)
    (seq / "img1").mkdir()
    _write(seq / "det" / "det.txt", "1,-1,1,1,5,5,1\n")
    for source in (seq, seq / "img1", seq / "SEQ.mp4", seq / "img1" / "%06d.jpg"):
        assert find_detections("auto", str(source)) == seq / "det" / "det.txt"
    assert str(find_detections("other.txt", str(seq))) == "other.txt"  # a path is taken as given
    with pytest.raises(InputError, match="--detections auto: no det/det.txt"):
        find_detections("auto", str(tmp_path / "elsewhere" / "clip.mp4"))


class _Blinking:
    """A stand-in for a self-starting model: reports one object whose id changes every time
    it is missed for a frame (as a model that forgets and rediscovers it would)."""

    self_starting = True
    static_camera_user = "the blinking model"

    def __init__(self):
        self.frames = 0
        self.model_id = 1

    def start(self, frame, boxes):
        self.frames = 1
        return []

    def update(self, frame):
        from attentrack.tracker.base import Track

        self.frames += 1
        if self.frames % 5 == 0:
            self.model_id += 1
            return []
        return [Track(self.model_id, np.array([10.0 + 2 * self.frames, 20, 20, 40]), 0.9)]


def test_a_model_that_forgets_for_a_frame_keeps_its_id_through_the_runner():
    model = _Blinking()
    runner = multi_object_tracker(model)
    assert isinstance(runner.proposer, ModelDetections) and runner.model is None
    assert runner.static_camera_user == "the blinking model"
    frame = np.zeros((120, 200, 3), np.uint8)
    ids = set()
    for _ in range(30):
        ids.update(t.track_id for t in runner.update(frame))
    assert model.model_id > 3  # the model itself changed ids several times
    assert ids == {1}


def test_object_sizes_are_the_median_of_the_last_ones():
    sizes = ObjectSizes(memory=10)
    assert sizes.typical() is None
    for _ in range(20):
        sizes.add(2, 4)
    assert sizes.typical() == (2, 4)
    for _ in range(6):
        sizes.add(20, 50)
    assert sizes.typical() == (20, 50)  # 6 of the last 10


def test_object_sizes_learn_from_objects_that_persist_not_from_flicker():
    """A walker seen in consecutive frames is learnt; specks that appear for one frame at a
    new place each time (parts, noise) are not, however many there are."""
    sizes = ObjectSizes()
    rng = np.random.default_rng(0)
    previous = np.zeros((0, 4))
    for t in range(20):
        walker = [[10.0 + 2 * t, 20, 20, 60]]
        specks = np.column_stack([rng.uniform(0, 300, 5), rng.uniform(0, 200, 5), np.full(5, 4.0), np.full(5, 6.0)])
        boxes = np.vstack([walker, specks])
        sizes.add_persistent(boxes, previous)
        previous = boxes
    assert sizes.typical() == (20, 60)
    sizes.add_persistent(np.zeros((0, 4)), previous)  # nothing this frame, nothing learnt
    assert len(sizes) == 19


def test_median_slope_is_robust_to_outliers():
    from attentrack.tracker.proposals import median_slope

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 500, 200)
    y = 0.5 * x + 20 + rng.normal(0, 2, 200)
    y[:40] = rng.uniform(0, 400, 40)  # a fifth of the points anywhere
    assert median_slope(x, y) == pytest.approx(0.5, abs=0.03)
    assert median_slope(np.ones(5), np.arange(5)) == 0.0  # no two rows apart: no slope


def test_typical_height_grows_towards_the_camera_but_never_falls_below_the_median():
    """Objects standing lower in the image are nearer and taller (perspective): the typical height
    where an object stands follows the line of height against bottom row, above the median only;
    a camera whose objects all stand at one depth, or too few objects, give the median."""
    sizes = ObjectSizes(min_objects=30)
    rows = np.linspace(200, 500, 60)
    for row in rows:
        sizes.add(0.4 * (row - 100), row - 100, row)  # height = bottom row - 100 (horizon at row 100)
    median = sizes.typical()[1]
    heights = sizes.height_at(np.array([150.0, 300.0, 500.0, 2000.0]))
    assert heights[0] == pytest.approx(median)  # far away: the median, not the line's 50
    assert heights[2] == pytest.approx(400.0, rel=0.02)  # near: the line
    assert heights[3] == pytest.approx(sizes.max_ratio * median)  # at most max_ratio times the median
    assert np.all(np.diff(heights) >= 0)
    flat = ObjectSizes()
    for row in rows:
        flat.add(20, 60, 300 + 0.01 * row)  # all at one depth
    assert np.allclose(flat.height_at(np.array([100.0, 900.0])), 60)
    few, unknown = ObjectSizes(), ObjectSizes()
    for row in rows[:10]:
        few.add(20, row - 100, row)
    for row in rows:
        unknown.add(20, row - 100)  # rows not given
    assert np.allclose(few.height_at(np.array([500.0])), few.typical()[1])
    assert np.allclose(unknown.height_at(np.array([500.0])), unknown.typical()[1])
    assert ObjectSizes().height_at(np.array([1.0])) is None


def test_a_part_near_the_camera_is_dropped_where_a_whole_person_far_away_is_kept():
    """The proposer's least height is half the typical height where a proposal stands: once
    people have been seen at several depths, a person's legs near the camera (as tall as a
    whole person far away) are left out, and the far person is kept."""
    proposer = MOG2Proposer(warmup=0)
    rows = np.linspace(150, 470, 40)
    for row in rows:  # persisting people seen at many depths: height = bottom row - 70
        proposer.sizes.add(0.4 * (row - 70), row - 70, row)
    median = proposer.sizes.typical()[1]  # 240 px
    far_person = [50, 110, 50, 130]  # stands on row 240: needs half the median there (120 px)
    near_legs = [300, 320, 60, 150]  # stands on row 470, where a person is 400 px tall: needs 200 px
    assert near_legs[3] >= proposer.min_object * median  # the median alone would have kept the legs
    mask = np.zeros((480, 640), np.uint8)
    for x, y, w, h in (far_person, near_legs):
        mask[y:y + h, x:x + w] = 255
    proposer.foreground = lambda frame: mask  # the mask as MOG2 would give it
    boxes, _ = proposer.propose(np.zeros((480, 640, 3), np.uint8))
    assert any(np.allclose(b, far_person) for b in boxes), boxes
    assert not any(np.allclose(b, near_legs) for b in boxes), boxes


def test_small_people_keep_their_thin_legs_large_ones_are_cleaned():
    """The 3x3 opening erases what is thinner than 3 px: it is used while the typical object is
    at least ``open_height`` tall, so a small person keeps legs 2 px wide (the whole figure is
    one box), and with the opening always on the same legs are lost (and the legless torso,
    wide for its height, is even split in two)."""
    def figure_boxes(open_height):
        proposer = MOG2Proposer(warmup=0, open_height=open_height)
        for _ in range(40):
            proposer.sizes.add(12, 44, 100.0)  # people of this camera: 44 px tall
        background = np.full((120, 160, 3), 90, np.uint8)
        for _ in range(20):
            proposer.foreground(background)
        frame = background.copy()
        frame[40:64, 60:72] = 230  # torso and head, 12 x 24
        frame[64:84, 61:63] = 230  # two legs 2 px wide, 20 px long
        frame[64:84, 69:71] = 230
        boxes, _ = proposer.propose(frame)
        return boxes

    kept = figure_boxes(open_height=100)  # 44 px typical < 100: no opening
    assert len(kept) == 1 and kept[0][3] >= 42, kept
    opened = figure_boxes(open_height=0)  # opening always
    assert len(opened) and (opened[:, 3] <= 26).all(), opened


def test_small_clean_median_removes_lone_pixels_and_keeps_thin_legs():
    """Below ``open_height``, ``small_clean=median`` (a 3x3 median) removes foreground pixels
    standing alone and keeps lines 2 px wide; ``none`` keeps both."""
    def mask(small_clean):
        proposer = MOG2Proposer(warmup=0, small_clean=small_clean)
        for _ in range(40):
            proposer.sizes.add(12, 44, 100.0)
        background = np.full((120, 160, 3), 90, np.uint8)
        for _ in range(20):
            proposer.foreground(background)
        frame = background.copy()
        frame[64:84, 61:63] = 230  # a leg 2 px wide
        frame[20, 20] = frame[30, 120] = 230  # lone pixels of noise
        return proposer.foreground(frame) > 0

    plain, median = mask("none"), mask("median")
    assert plain[20, 20] and plain[30, 120] and not median[20, 20] and not median[30, 120]
    assert median[66:82, 61:63].all() and plain[66:82, 61:63].all()
    with pytest.raises(InputError, match="small_clean"):
        MOG2Proposer(small_clean="blur")


def test_fragments_stacked_one_above_the_other_join_and_side_by_side_ones_do_not():
    # x, y, w, h, pixels: a head, a torso and legs with gaps; beside them a second person
    person = [(10, 0, 8, 8, 50), (8, 10, 12, 20, 200), (9, 33, 10, 20, 150)]
    other = [(40, 2, 12, 50, 500)]
    for scale in (1, 4):  # no pixel size in the rule: the same at any scale
        frags = np.array([[v * scale for v in f[:4]] + [f[4] * scale * scale] for f in person + other])
        boxes, pixels = group_fragments(frags)
        order = np.argsort(boxes[:, 0])
        np.testing.assert_allclose(boxes[order], np.array([[8, 0, 12, 53], [40, 2, 12, 50]]) * scale)
        np.testing.assert_allclose(pixels[order], np.array([400, 500]) * scale * scale)
    far = np.array([[10, 0, 8, 8, 50], [10, 30, 8, 8, 50]])  # a gap of 22 px between 8-px parts
    assert len(group_fragments(far)[0]) == 2


def test_objects_side_by_side_split_where_the_foreground_is_thinnest():
    """Two and three upright people of aspect 1:3 touching side by side (their hands join the
    foreground) come apart at the hands, each as the box of its own foreground; a person with a
    bag (less than 1.7 times as wide as typical) stays whole. No pixel size in the rule: the
    same at any scale."""
    people = [(10, 20, 20, 60), (32, 22, 20, 58), (100, 10, 20, 60), (122, 12, 20, 60), (144, 15, 20, 60),
              (175, 10, 20, 60)]
    for scale in (1, 3):
        mask = np.zeros((100 * scale, 220 * scale), np.uint8)
        for x, y, w, h in people:
            mask[y * scale:(y + h) * scale, x * scale:(x + w) * scale] = 255
        for x in (30, 120, 142):  # hands touching
            mask[40 * scale:42 * scale, x * scale:(x + 2) * scale] = 255
        mask[50 * scale:70 * scale, 195 * scale:203 * scale] = 255  # the lone person's bag
        pair, trio, with_bag = [10, 20, 42, 60], [100, 10, 64, 65], [175, 10, 28, 60]
        boxes = np.array([pair, trio, with_bag], float) * scale
        pixels = np.array([(mask[y:y + h, x:x + w] > 0).sum() for x, y, w, h in boxes.astype(int)], float)
        split, split_pixels = split_side_by_side(boxes, pixels, mask, typical_aspect=1 / 3)
        order = np.argsort(split[:, 0])
        expected = np.array([people[0], people[1], people[2], people[3], people[4], with_bag], float) * scale
        np.testing.assert_allclose(split[order], expected, atol=2 * scale)
        assert split_pixels.sum() == pixels.sum()  # every foreground pixel in exactly one piece
    # an object no wider than typical, or a typical aspect not yet known, is left alone
    box = np.array([[0.0, 0.0, 20.0, 60.0]])
    full = np.full((60, 20), 255, np.uint8)
    np.testing.assert_array_equal(split_side_by_side(box, np.ones(1), full, 1 / 3)[0], box)
    np.testing.assert_array_equal(split_side_by_side(box, np.ones(1), full, 0.0)[0], box)


def test_object_sizes_typical_aspect_is_the_commonest_shape():
    """Parts of people and groups side by side are both wider for their height than one person:
    with fewer single people than the two together, the median is pulled wide; the commonest
    shape stays the single person's."""
    sizes = ObjectSizes()
    assert sizes.typical_aspect() is None
    for w, h in ((10, 30), (20, 60), (30, 90), (90, 60)):
        sizes.add(w, h)
    assert sizes.typical_aspect() == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    people = rng.uniform(0.30, 0.36, 40)
    parts = rng.uniform(0.6, 1.4, 30)  # heads, legs, torsos
    groups = rng.uniform(0.7, 1.2, 30)  # two or three side by side
    crowd = ObjectSizes()
    for ratio in np.concatenate([people, parts, groups]):
        crowd.add(60 * ratio, 60)
    assert np.median(np.concatenate([people, parts, groups])) > 0.6
    assert 0.30 <= crowd.typical_aspect() <= 0.36
    crowd.shape = "median"  # the rule before (MOG2Proposer(typical_shape="median"))
    assert crowd.typical_aspect() == pytest.approx(np.median(np.concatenate([people, parts, groups])))
    with pytest.raises(InputError, match="typical_shape"):
        ObjectSizes(shape="mode")
    assert MOG2Proposer(typical_shape="median").sizes.shape == "median"


def test_commonest_ratio_is_scale_free_and_prefers_the_smaller_of_equals():
    ratios = np.array([0.3, 0.31, 0.32, 1.0, 1.2, 2.0])
    assert commonest_ratio(ratios) == pytest.approx(0.31, abs=0.011)
    assert commonest_ratio(ratios * 10) == pytest.approx(10 * commonest_ratio(ratios))
    assert commonest_ratio(np.array([0.5, 2.0])) == pytest.approx(0.5)


def test_median_background_removes_what_moves():
    frames = _scene(1, 40)
    background = median_background(frames[::4])
    moving = np.abs(frames[0].astype(int) - background.astype(int)).max(axis=2) > 30
    assert moving.sum() > 0
    assert np.abs(background.astype(int) - _scene(1, 1)[0].astype(int)).max(axis=2)[~moving].max() == 0
    ys, xs = np.nonzero(moving)  # what differs at frame 0 is the two people, nothing else
    assert xs.min() >= 20 and xs.max() < 160 and ys.min() >= 30 and ys.max() < 70


def test_priming_finds_objects_present_from_the_first_frame():
    frames = _scene(2, 30)
    plain = MOG2Proposer()
    primed = MOG2Proposer()
    primed.prime(frames[::3])
    assert len(plain.propose(frames[0])[0]) == 0  # still learning the background
    boxes, _ = primed.propose(frames[0])
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes[np.argsort(boxes[:, 0])][:, 1], [60, 60], atol=2)


def test_a_noise_floor_from_the_priming_frames_keeps_sensor_noise_out_of_the_foreground():
    """Frames of a flat grey scene with sensor noise (sd 6 grey levels): :func:`camera_noise`
    measures it; primed from their median alone, MOG2 takes much of the noise for foreground
    in the first real frames; with ``noise_floor`` almost none."""
    from attentrack.tracker.foreground import camera_noise

    rng = np.random.default_rng(0)
    scene = np.full((60, 80, 3), 120.0)
    frames = [np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8) for _ in range(24)]
    assert 4.5 < camera_noise(frames, median_background(frames)) < 7.5
    share = {}
    for floor in (False, True):
        proposer = MOG2Proposer(noise_floor=floor)
        proposer.prime(frames)
        share[floor] = np.mean([(proposer.foreground(f) > 0).mean() for f in frames[:3]])
    assert share[True] < 0.01 < share[False]
    # black letterbox bars (a third of each frame, no noise) leave the measured noise as it was
    boxed = [np.concatenate([np.zeros((30, 80, 3), np.uint8), f], axis=0) for f in frames]
    assert camera_noise(boxed, median_background(boxed)) == camera_noise(frames, median_background(frames))
    assert camera_noise(boxed[:1] * 3, boxed[0]) == 0.0  # nothing varies: nothing measured
    from attentrack.tracker.base import create_tracker  # the blobs baseline's own proposer takes the option

    assert create_tracker("blobs", {"noise_floor": "false"})._proposer.noise_floor is False
    assert create_tracker("blobs")._proposer.noise_floor is True


def test_the_runner_primes_recorded_sources_and_live_ones_from_their_first_seconds(tmp_path, write_video):
    from attentrack.tracker.runner import prime_detector
    from attentrack.tracker.sources import VideoCaptureSource, open_source

    write_video(tmp_path / "scene.avi", _scene(1, 12))

    class Recorder:
        frames = None

        def prime(self, frames):
            self.frames = frames

    recorder = Recorder()
    assert prime_detector(recorder, open_source(str(tmp_path / "scene.avi")), samples=4)
    assert 2 <= len(recorder.frames) <= 4 and recorder.frames[0].shape == (120, 200, 3)  # spread over the clip

    live = VideoCaptureSource(str(tmp_path / "scene.avi"), "camera", live=True)  # a "camera" showing the clip
    recorder = Recorder()
    assert prime_detector(recorder, live, live_seconds=0.1)
    assert len(recorder.frames) == 10  # its first 10 frames (the least), every one kept
    assert len(list(live)) == 12  # and the tracking session opens it again from its start
    assert not prime_detector(Recorder(), live, live_seconds=0)
    assert not prime_detector(object(), open_source(str(tmp_path / "scene.avi")))


def _scene(scale: int, frames: int = 40) -> list[np.ndarray]:
    """A textured still background with two upright "people" walking, each in three
    fragments (head, body, legs) with gaps, all sizes ``scale`` times larger."""
    rng = np.random.default_rng(0)
    h, w = 120 * scale, 200 * scale
    background = cv2.resize(rng.integers(60, 120, (30, 50, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    out = []
    for t in range(frames):
        f = background.copy()
        for x0, dx in ((20, 2), (150, -2)):
            x = (x0 + dx * t) * scale
            y = 30 * scale
            for top, height in ((0, 6), (8, 14), (24, 16)):  # fragments with 2-px gaps
                f[y + top * scale:y + (top + height) * scale, x:x + 10 * scale] = (230, 230, 230)
        out.append(f)
    return out


def test_mog2_proposals_scale_with_the_objects_not_the_frame():
    """The same scene at 1x and 3x: each person comes out as one box, 3 times larger."""
    found = {}
    for scale in (1, 3):
        proposer = MOG2Proposer(warmup=3)
        boxes = None
        for frame in _scene(scale):
            boxes, _ = proposer.propose(frame)
        found[scale] = boxes[np.argsort(boxes[:, 0])]
        assert len(boxes) == 2, (scale, boxes)
        np.testing.assert_allclose(found[scale][:, 3], 40 * scale, rtol=0.15)  # one box per person
    np.testing.assert_allclose(found[3], 3 * found[1], rtol=0.1, atol=3)


def test_mog2_fixed_to_the_frame_when_fractions_are_given():
    proposer = MOG2Proposer(min_area=0.5, close_width=0.01, close_height=0.01, warmup=3)
    for frame in _scene(1, 10):
        boxes, _ = proposer.propose(frame)
    assert len(boxes) == 0  # nothing covers half the frame
    with pytest.raises(InputError, match="both close_width and close_height"):
        MOG2Proposer(close_width=0.1)


def test_runner_with_a_det_file_through_the_pipeline(tmp_path):
    from attentrack.tracker.pipeline import run_tracking
    from attentrack.tracker.sinks import MotTxtSink
    from attentrack.tracker.sources import open_source

    frames = _scene(1, 12)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (200, 120))
    for f in frames:
        writer.write(f)
    writer.release()
    rows = "".join(f"{k + 1},-1,{20 + 2 * k},30,10,40,1\n" for k in range(12))
    det = DetectionFile(_write(tmp_path / "det.txt", rows))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_tracking(open_source(str(video)), MultiObjectTracker(), [MotTxtSink(tmp_path / "out.txt")],
                     detections=det, progress=False)
    out = np.loadtxt(tmp_path / "out.txt", delimiter=",").reshape(-1, 10)
    assert set(out[:, 1]) == {1} and len(out) == 12
    past = DetectionFile(_write(tmp_path / "late.txt", rows + "40,-1,1,1,5,5,1\n"))
    with pytest.raises(InputError, match="late.txt:13: frame 40 is past"):
        run_tracking(open_source(str(video)), MultiObjectTracker(), [], detections=past, progress=False)
