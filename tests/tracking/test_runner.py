"""The multi-object runner: motion model, association, life cycle, and identity keeping on
degraded real ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.degrade import degrade_ground_truth
from attentrack.datasets.mot import MotRows, read_mot
from attentrack.tracker.appearance import colour_embeddings, cosine_distance
from attentrack.tracker.association import FORBIDDEN, assign, association_cost
from attentrack.tracker.errors import InputError
from attentrack.tracker.motion import BoxKalman
from attentrack.tracker.protocols.association import IOU_TRACKER, DegradeOptions, association_protocol
from attentrack.tracker.runner import MultiObjectTracker, RunnerSettings


def test_kalman_learns_a_constant_velocity_and_keeps_sizes_positive():
    kf = BoxKalman([0, 0, 10, 20])
    for t in range(1, 15):
        kf.predict()
        kf.update([3 * t, 2 * t, 10, 20])
    np.testing.assert_allclose(kf.velocity, [3, 2], atol=0.2)
    np.testing.assert_allclose(kf.predict(), [45, 30, 10, 20], atol=1.0)
    kf.stop()
    assert np.all(kf.velocity == 0)
    shrinking = BoxKalman([0, 0, 2, 2])
    for t in range(5):
        shrinking.predict()
        shrinking.update([0, 0, 2 - 0.5 * t, 2 - 0.5 * t])
    for _ in range(10):
        assert np.all(shrinking.predict()[2:] >= 1.0)


def test_kalman_is_scale_free():
    """The same motion, ten times larger, is filtered ten times larger."""
    small, large = BoxKalman([5, 5, 4, 8]), BoxKalman([50, 50, 40, 80])
    for t in range(1, 8):
        a, b = small.predict(), large.predict()
        np.testing.assert_allclose(10 * a, b, rtol=1e-9)
        small.update([5 + t, 5, 4, 8])
        large.update([50 + 10 * t, 50, 40, 80])


def test_cost_gates_far_and_differently_sized_pairs():
    tracks = np.array([[0, 0, 10, 20], [100, 0, 10, 20]], dtype=float)
    dets = np.array([[1, 0, 10, 20], [300, 0, 10, 20], [100, 0, 30, 60]], dtype=float)
    cost = association_cost(tracks, dets, gates=np.array([20.0, 20.0]))
    assert cost[0, 0] == pytest.approx((1 - 180 / 220) + 1 / 20)  # 1 - IoU, plus the jump in gates
    assert cost[0, 1] == FORBIDDEN and cost[1, 1] == FORBIDDEN  # beyond the gate, no overlap
    assert cost[1, 2] == FORBIDDEN  # three times as tall
    pairs, rows, cols = assign(cost, max_cost=1.5)
    assert pairs == [(0, 0)] and rows == [1] and cols == [1, 2]
    assert assign(np.zeros((0, 3)), 1.0) == ([], [], [0, 1, 2])


def test_colour_embeddings_tell_colours_apart_at_any_size():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = (0, 0, 200)   # red half (BGR)
    frame[:, 100:] = (200, 0, 0)   # blue half
    emb = colour_embeddings(frame, [[10, 10, 40, 80], [60, 40, 8, 16], [120, 10, 40, 80], [500, 500, 5, 5]])
    np.testing.assert_allclose(np.linalg.norm(emb[:3], axis=1), 1.0, rtol=1e-5)
    assert not emb[3].any()  # outside the frame
    dist = cosine_distance(emb[:3], emb[:3])
    assert dist[0, 1] < 1e-6 and dist[0, 2] > 0.9


def test_settings_are_validated():
    with pytest.raises(InputError, match="min_hits"):
        RunnerSettings(min_hits=-1)
    with pytest.raises(InputError, match="gate"):
        RunnerSettings(gate=0)
    with pytest.raises(InputError, match="new_overlap"):
        RunnerSettings(new_overlap=1.5)
    with pytest.raises(InputError, match="report"):
        RunnerSettings(report="smoothed")
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        MultiObjectTracker().update(np.zeros((10, 10, 3), np.uint8), np.zeros((2, 3)))


def read_mot_text(text: str, folder) -> MotRows:
    """MOT rows from ``text`` (written to ``folder/rows.txt`` and read back)."""
    path = folder / "rows.txt"
    path.write_text(text)
    return read_mot(path)


def _square_video(n: int, boxes_at):
    """Frames of grey background with one coloured square per object at ``boxes_at(t)``."""
    colours = [(0, 0, 220), (220, 0, 0), (0, 200, 0)]
    for t in range(n):
        frame = np.full((120, 200, 3), 90, np.uint8)
        for k, (x, y, w, h) in enumerate(boxes_at(t)):
            frame[int(y):int(y + h), int(x):int(x + w)] = colours[k]
        yield frame


def test_a_one_frame_part_moves_a_filtered_box_only_partly():
    """A still object whose detection shrinks to its upper half for one frame (a part): the
    detection is reported as it is with ``report=detection``; the filtered box moves only part
    of the way (the filter's gain on a size is about two thirds once it has settled)."""
    whole, part = [40.0, 20.0, 20.0, 60.0], [40.0, 20.0, 20.0, 30.0]
    heights = {}
    for report in ("detection", "filtered"):
        runner = MultiObjectTracker(settings=RunnerSettings(min_hits=1, report=report))
        frame = np.full((120, 200, 3), 90, np.uint8)
        for _ in range(10):
            runner.update(frame, np.array([whole]))
        (track,) = runner.update(frame, np.array([part]))
        heights[report] = track.box[3]
    assert heights["detection"] == 30.0
    assert 35.0 < heights["filtered"] < 45.0


@pytest.mark.parametrize("groups", [True, False])
def test_two_objects_that_merge_into_one_detection_stay_apart_at_their_predicted_boxes(groups):
    """Two people walk side by side and are one blob (the union of both boxes) for 8 frames,
    then two again: with ``groups`` both stay reported, each near its own true box, and keep
    their ids; without it one of them is lost while they are merged."""
    def boxes_at(t):
        return np.array([(20.0 + 3 * t, 40.0, 20.0, 50.0), (46.0 + 3 * t, 42.0, 20.0, 50.0)])

    def union(b):
        x0, y0 = b[:, :2].min(0)
        x1, y1 = (b[:, :2] + b[:, 2:]).max(0)
        return np.array([[x0, y0, x1 - x0, y1 - y0]])

    runner = MultiObjectTracker(settings=RunnerSettings(min_hits=3, groups=groups))
    frame = np.full((150, 200, 3), 90, np.uint8)
    ids, reported = [], []
    for t in range(30):
        true = boxes_at(t)
        merged = 10 <= t < 18
        tracks = runner.update(frame, union(true) if merged else true)
        ids.append(sorted(tr.track_id for tr in tracks))
        if merged:
            reported.append((true, np.array([tr.box for tr in tracks]).reshape(-1, 4)))
    if groups:
        assert ids[0] == ids[-1] and len(ids[0]) == 2  # the same two ids before and after
        for true, boxes in reported:
            assert len(boxes) == 2
            order = np.argsort(boxes[:, 0])
            assert np.abs(boxes[order, :2] - true[:, :2]).max() < 3.0  # each near its own object
            assert np.allclose(boxes[:, 2:], true[:, 2:], atol=1.0)  # neither grows nor shrinks
    else:
        assert min(len(boxes) for _, boxes in reported) == 1


def test_one_object_with_a_second_track_on_it_is_not_a_group():
    """A detection no larger than one object is that object's, however many tracks sit in it:
    a spurious track beside a person is not kept alive by the person's detection."""
    runner = MultiObjectTracker(settings=RunnerSettings(min_hits=1))
    frame = np.full((150, 200, 3), 90, np.uint8)
    person, beside = [60.0, 30.0, 20.0, 60.0], [72.0, 50.0, 12.0, 30.0]
    for _ in range(3):
        runner.update(frame, np.array([person, beside]))
    for _ in range(3):
        tracks = runner.update(frame, np.array([[60.0, 30.0, 26.0, 60.0]]))
    assert len(tracks) == 1


def test_a_part_inside_a_tracked_object_is_not_a_group():
    """A second track on a part of a person (its box inside the person's) does not make the
    person's detection a group: the person is reported at its detection."""
    runner = MultiObjectTracker(settings=RunnerSettings(min_hits=1))
    frame = np.full((150, 200, 3), 90, np.uint8)
    person, head = [60.0, 30.0, 20.0, 60.0], [64.0, 30.0, 12.0, 14.0]
    runner.update(frame, np.array([person, head]))
    for _ in range(3):
        tracks = runner.update(frame, np.array([[61.0, 31.0, 20.0, 60.0]]))
    assert len(tracks) == 1 and np.allclose(tracks[0].box, [61.0, 31.0, 20.0, 60.0], atol=1.0)


def test_life_cycle_confirms_remembers_through_a_gap_and_ends():
    """Two objects cross; one is not detected for 6 frames, then found again with its id."""
    def boxes_at(t):
        return [(10 + 4 * t, 20, 16, 32), (150 - 4 * t, 60, 16, 32)]

    runner = MultiObjectTracker(settings=RunnerSettings(min_hits=3, max_lost=10))
    ids_a, ids_b = [], []
    for t, frame in enumerate(_square_video(30, boxes_at)):
        a, b = boxes_at(t)
        dets = [b] if 10 <= t < 16 else [a, b]
        tracks = {tuple(np.round(tr.box)): tr.track_id for tr in runner.update(frame, np.array(dets, float))}
        ids_a.append(next((i for bx, i in tracks.items() if abs(bx[1] - 20) < 3), None))
        ids_b.append(next((i for bx, i in tracks.items() if abs(bx[1] - 60) < 3), None))
    assert set(filter(None, ids_a)) == {ids_a[0]} and set(filter(None, ids_b)) == {ids_b[0]}
    assert ids_a[0] != ids_b[0]
    assert ids_a[16] == ids_a[0]  # found again after the gap
    # no detections at all for longer than max_lost: the tracks end
    for frame in _square_video(12, boxes_at):
        runner.update(frame, np.zeros((0, 4)))
    assert runner.track_ids == []


class _ListedProposer:
    """Proposes the boxes it is given, one list per frame."""

    def __init__(self, per_frame):
        self.per_frame = iter(per_frame)

    def propose(self, frame):
        boxes = np.array(next(self.per_frame), float).reshape(-1, 4)
        return boxes, np.ones(len(boxes))


@pytest.mark.parametrize("coasted, settings, proposed", [
    (2, {}, False),  # given detections: coasted by default
    (0, {"motion_coast": 0}, False),
    (0, {}, True),  # proposals: not by default
    (1, {"motion_coast_proposals": 1}, True),
])
def test_a_missed_confirmed_object_is_reported_where_the_motion_model_expects_it(coasted, settings, proposed):
    """An object moving 4 px a frame is not detected in frames 10-14: for ``coasted`` frames
    it is still reported, with its id, at the constant-velocity prediction; then not until it
    is found again. A tentative track is never coasted."""
    def boxes_at(t):
        return [(10 + 4 * t, 20, 16, 32)]

    per_frame = [[] if 10 <= t < 15 else boxes_at(t) for t in range(20)]
    proposer = _ListedProposer(per_frame) if proposed else None
    runner = MultiObjectTracker(proposer=proposer, settings=RunnerSettings(min_hits=3, max_lost=10, **settings))
    reported = {}
    for t, frame in enumerate(_square_video(20, boxes_at)):
        dets = None if proposed else np.array(per_frame[t], float).reshape(-1, 4)
        reported[t] = runner.update(frame, dets)
    first_id = reported[9][0].track_id
    for t in range(10, 15):
        assert len(reported[t]) == (1 if t < 10 + coasted else 0)
        if reported[t]:
            assert reported[t][0].track_id == first_id
            np.testing.assert_allclose(reported[t][0].box, boxes_at(t)[0], atol=1.5)
    assert [tr.track_id for tr in reported[15]] == [first_id]

    fresh = MultiObjectTracker(settings=RunnerSettings(min_hits=3, motion_coast=2))
    frame = np.full((120, 200, 3), 90, np.uint8)
    for t in range(6):  # after the start: a new object is tentative until its third frame
        fresh.update(frame, np.array([[10.0, 20, 16, 32]]))
    fresh.update(frame, np.array([[10.0, 20, 16, 32], [120.0, 60, 16, 32]]))
    assert [tr.box[0] for tr in fresh.update(frame, np.array([[10.0, 20, 16, 32]]))] == [10.0]


def test_a_low_scoring_detection_continues_a_followed_object_but_starts_nothing():
    """With ``start_score``, a weak detection keeps a track that the strong ones miss, and a
    weak one where nothing is followed starts no track; without it, both count alike."""
    def boxes_at(t):
        return [(10 + 2 * t, 20, 16, 32)]

    for start_score, expect_weak_track in ((0.5, False), (float("-inf"), True)):
        runner = MultiObjectTracker(settings=RunnerSettings(min_hits=2, motion_coast=0, start_score=start_score))
        ids, seen = [], set()
        for t, frame in enumerate(_square_video(16, boxes_at)):
            score = 0.2 if 6 <= t < 10 else 0.9  # the followed object's detection weakens for 4 frames
            dets = [(*boxes_at(t)[0], score), (150, 80, 16, 32, 0.2)]  # and a weak box on nothing
            tracks = runner.update(frame, np.array(dets, float))
            seen |= {tr.track_id for tr in tracks}
            ids.append([tr.track_id for tr in tracks if tr.box[1] < 50])
        assert all(i == ids[2] for i in ids[2:]) and len(ids[2]) == 1  # followed throughout, one id
        assert (len(seen) > 1) == expect_weak_track


def test_a_false_positive_never_becomes_a_track():
    runner = MultiObjectTracker(settings=RunnerSettings(min_hits=3))
    frames = list(_square_video(12, lambda t: [(10 + 2 * t, 20, 16, 32)]))
    seen = set()
    for t, frame in enumerate(frames):
        dets = [(10 + 2 * t, 20, 16, 32)] + ([(150, 80, 16, 32)] if t == 6 else [])
        seen |= {tr.track_id for tr in runner.update(frame, np.array(dets, float))}
    assert seen == {1}


def test_init_tracks_end_when_the_object_leaves_unless_kept():
    """Given boxes and no detector: a track whose box leaves the frame ends (``keep_init`` keeps it)."""
    from attentrack.tracker.trackers.static import StaticTracker

    class Walker(StaticTracker):
        def update_one(self, state, frame):
            box, _ = state  # (box, first-frame template)
            box[0] += 30
            return box, 1.0

    for keep, expect_alive in ((False, False), (True, True)):
        runner = MultiObjectTracker(model=Walker(), settings=RunnerSettings(keep_init=keep))
        frame = np.zeros((100, 200, 3), np.uint8)
        runner.start(frame, [[100, 10, 20, 40]])
        for _ in range(8):
            runner.update(frame)
        assert bool(runner.track_ids) == expect_alive


def test_degraded_ground_truth_is_seeded_and_as_asked():
    rng = np.random.default_rng(0)
    n = 2000
    gt = MotRows(rng.integers(1, 101, n), rng.integers(1, 20, n), np.column_stack(
        [rng.uniform(0, 500, (n, 2)), rng.uniform(20, 60, (n, 1)), rng.uniform(40, 120, (n, 1))]), np.ones(n),
        -np.ones((n, 3)))
    det = degrade_ground_truth(gt, (640, 480), drop=0.2, jitter=0.05, false_positives=0.1, seed=3)
    again = degrade_ground_truth(gt, (640, 480), drop=0.2, jitter=0.05, false_positives=0.1, seed=3)
    np.testing.assert_array_equal(det.boxes, again.boxes)
    kept = round(len(det) / 1.1)
    assert abs(kept - 0.8 * n) < 0.05 * n
    assert np.all(det.ids == -1) and np.all(np.diff(det.frames) >= 0)
    clean = degrade_ground_truth(gt, (640, 480), drop=0.0, jitter=0.0, false_positives=0.0)
    assert len(clean) == n
    with pytest.raises(InputError, match="drop"):
        degrade_ground_truth(gt, (640, 480), drop=1.5)


def test_every_nth_frame_keeps_frames_one_plus_multiples_of_the_step_renumbered():
    from attentrack.tracker.protocols.association import every_nth_frame

    rows = MotRows(np.arange(1, 11), np.ones(10, int), np.tile([1.0, 2, 3, 4], (10, 1)), np.ones(10), -np.ones((10, 3)))
    kept = every_nth_frame(rows, 4)
    assert kept.frames.tolist() == [1, 2, 3] and len(kept.boxes) == 3
    assert rows.frames.tolist() == list(range(1, 11))  # the rows given are not changed
    assert every_nth_frame(rows, 1) is rows


def test_the_protocol_at_a_lower_frame_rate_sees_every_nth_frame(tmp_path, clip):
    """``frame_step``: the tracker gets frames 0, 3, 6, 9 of the clip and the ground truth of the
    same frames, so clean detections are found in every one of them with one identity."""
    gt = read_mot_text("".join(f"{i},1,{20 + 3 * (i - 1)},{30 + (i - 1)},24,24,1,-1,-1,-1\n" for i in range(1, 13)),
                       tmp_path)
    clean = {"pipelines": {"runner": RunnerSettings(min_hits=1)}, "degrade": DegradeOptions(0.0, 0.0, 0.0)}
    (result,) = association_protocol([("clip", str(clip), gt)], **clean, frame_step=3)
    overall = result.evaluation.overall
    assert overall.frames == 4 and overall.gt_dets == 4
    assert overall.idf1 == 1.0 and overall.mota == 1.0


@pytest.mark.data
@pytest.mark.slow
def test_runner_keeps_identities_on_degraded_real_ground_truth(data_dir):
    """TUD-Campus with a fifth of the boxes dropped, 5 % jitter and 10 % false positives: the
    runner keeps identities far better than the plain IoU tracker, at recorded size and on a
    3x wider view (people three times smaller)."""
    seq = data_dir / "mot15" / "TUD-Campus"
    sequences = [("TUD-Campus", str(seq / "TUD-Campus.mp4"), read_mot(seq / "gt" / "gt.txt", min_confidence=1))]
    results = association_protocol(sequences, {"runner": RunnerSettings(), "iou": RunnerSettings(**IOU_TRACKER)},
                                   zooms=(1.0, 3.0), seeds=(0,))
    by = {(r.pipeline, r.zoom): r.evaluation.overall for r in results}
    for zoom in (1.0, 3.0):
        assert by["runner", zoom].idf1 > 0.6
        assert by["runner", zoom].idf1 > by["iou", zoom].idf1 + 0.3
        assert by["runner", zoom].idsw < by["iou", zoom].idsw
