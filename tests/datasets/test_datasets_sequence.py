"""Sequence detection and loading for MOTChallenge, OTB, VOT, KITTI and plain videos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from attentrack.datasets.sequence import detect_kind, find_sequences, open_sequence
from attentrack.tracker.errors import InputError

W, H = 16, 12


def _frames(folder, n, pattern="{:06d}.png", start=1):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((H, W, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / pattern.format(i + start)), img)


def _mot(root, name="SEQ", n=3, gt="1,1,1,2,3,4,1,-1,-1,-1\n2,1,2,2,3,4,1,-1,-1,-1\n"
         "2,2,5,5,2,2,0,-1,-1,-1\n3,1,3,2,3,4,1,-1,-1,-1\n", frames=True):
    seq = root / name
    (seq / "gt").mkdir(parents=True)
    (seq / "gt" / "gt.txt").write_text(gt)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={n}\n"
        f"imWidth={W}\nimHeight={H}\nimExt=.png\n")
    if frames:
        _frames(seq / "img1", n)
    return seq


def test_mot_image_folder(tmp_path):
    seq = open_sequence(_mot(tmp_path))
    assert (seq.name, seq.kind, len(seq), seq.fps, seq.size) == ("SEQ", "mot", 3, 30.0, (W, H))
    assert seq.gt.ids.tolist() == [1, 1, 1]  # the conf-0 "ignore" row is dropped
    frames, boxes = seq.tracks()[1]
    assert frames.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(boxes[:, 0], [1, 2, 3])
    assert seq.image(2)[0, 0, 0] == 80
    assert [i for i, _ in seq.frames()] == [0, 1, 2]
    assert [int(f[0, 0, 0]) for _, f in seq.frames(background=True)] == [0, 40, 80]
    with pytest.raises(IndexError):
        seq.image(3)
    all_rows = open_sequence(tmp_path / "SEQ", min_confidence=0)
    assert len(all_rows.gt) == 4
    assert sorted(all_rows.tracks(min_length=1)) == [1, 2]
    assert sorted(all_rows.tracks()) == [1]


def test_mot_video_beside_gt(tmp_path):
    seq_dir = _mot(tmp_path, frames=False)
    writer = cv2.VideoWriter(str(seq_dir / "SEQ.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (W, H))
    for i in range(3):
        writer.write(np.full((H, W, 3), 80 * i, np.uint8))
    writer.release()
    seq = open_sequence(seq_dir)
    assert len(seq) == 3 and seq.size == (W, H)
    assert abs(int(seq.image(2)[5, 5, 0]) - 160) < 10
    assert abs(int(seq.image(0)[5, 5, 0])) < 10
    assert len(list(seq.frames())) == 3
    seq.release()


def test_mot_errors(tmp_path):
    with pytest.raises(InputError, match="sequence SEQ has no frames"):
        open_sequence(_mot(tmp_path, frames=False))
    bad = _mot(tmp_path, name="BAD", gt="1,1,1,2,3,4\n1,2,3\n")
    with pytest.raises(InputError, match=r"gt\.txt:2: "):
        open_sequence(bad)
    nogt = tmp_path / "NOGT"
    _frames(nogt / "img1", 2)
    (nogt / "seqinfo.ini").write_text("[Sequence]\nname=NOGT\nimDir=img1\nframeRate=25\n")
    with pytest.raises(InputError, match="no ground truth"):
        open_sequence(nogt)
    assert len(open_sequence(nogt, require_gt=False).gt) == 0
    with pytest.raises(InputError, match="no such sequence"):
        open_sequence(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a sequence"):
        open_sequence(tmp_path / "empty")


def test_otb_folder(tmp_path):
    seq_dir = tmp_path / "Walk"
    _frames(seq_dir / "img", 3, "{:04d}.jpg")
    (seq_dir / "groundtruth_rect.txt").write_text("1,1,4,4\n0,0,0,0\n3\t3\t4\t4\n")
    seq = open_sequence(seq_dir)
    assert (seq.kind, len(seq), seq.size) == ("otb", 3, (W, H))
    assert seq.gt.frames.tolist() == [1, 3] and seq.gt.ids.tolist() == [1, 1]
    # the ground-truth file's path works too
    assert open_sequence(seq_dir / "groundtruth_rect.txt").name == "Walk"
    (seq_dir / "groundtruth_rect.txt").write_text("1,1,4,4\n")
    with pytest.raises(InputError, match="1 boxes but the sequence has 3 frames"):
        open_sequence(seq_dir)


def test_otb_several_targets(tmp_path):
    seq_dir = tmp_path / "Jog"
    _frames(seq_dir / "img", 2, "{:04d}.jpg")
    (seq_dir / "groundtruth_rect.1.txt").write_text("1,1,4,4\n2,2,4,4\n")
    (seq_dir / "groundtruth_rect.2.txt").write_text("8,1,4,4\nNaN\n")
    seq = open_sequence(seq_dir)
    assert seq.kind == "otb"
    assert {k: v[0].tolist() for k, v in seq.tracks(min_length=1).items()} == {1: [1, 2], 2: [1]}


def test_vot_folder(tmp_path):
    seq_dir = tmp_path / "ball"
    _frames(seq_dir, 2, "{:08d}.jpg")
    (seq_dir / "groundtruth.txt").write_text("2,1,6,3,5,8,1,6\n1,1,3,3\n")
    seq = open_sequence(seq_dir)
    assert (seq.kind, len(seq)) == ("vot", 2)
    np.testing.assert_allclose(seq.gt.boxes, [[1, 1, 5, 7], [1, 1, 3, 3]])
    (seq_dir / "groundtruth.txt").write_text("1,1,3,3\n1,1,3\n")
    with pytest.raises(InputError, match=r"groundtruth\.txt:2: "):
        open_sequence(seq_dir)


def _kitti(root):
    _frames(root / "image_02" / "0003", 3, "{:06d}.png", start=0)
    (root / "label_02").mkdir()
    (root / "label_02" / "0003.txt").write_text(
        "0 -1 DontCare -1 -1 -10 1 1 3 3 -1000 -1000 -1000 -10 -1 -1 -1\n"
        "0 4 Car 0 0 0 2 2 8 6 1.5 1.6 4 1 1 20 0\n"
        "1 4 Car 0 0 0 3 2 9 6 1.5 1.6 4 1 1 20 0\n"
        "2 7 Pedestrian 0 0 0 10 1 12 9 1.7 0.6 0.8 2 1 15 0\n")


def test_kitti_sequence(tmp_path):
    _kitti(tmp_path)
    seq = open_sequence(tmp_path / "image_02" / "0003")
    assert (seq.kind, seq.name, len(seq), seq.fps) == ("kitti", "0003", 3, 10.0)
    assert seq.gt.frames.tolist() == [1, 2, 3]  # KITTI frame 0 is MotRows frame 1
    assert seq.gt_types.tolist() == ["Car", "Car", "Pedestrian"]
    np.testing.assert_allclose(seq.gt.boxes[0], [2, 2, 6, 4])
    cars = open_sequence(tmp_path / "label_02" / "0003.txt", classes="Car")
    assert cars.gt.ids.tolist() == [4, 4]
    with_dc = open_sequence(tmp_path / "image_02" / "0003", min_confidence=0)
    assert with_dc.gt.ids.tolist()[0] == -1 and -1 not in with_dc.tracks(min_length=1)


def test_plain_video_kind(tmp_path):
    _frames(tmp_path / "clip", 2)
    seq = open_sequence(tmp_path / "clip")
    assert (seq.kind, len(seq), len(seq.gt)) == ("video", 2, 0)
    assert detect_kind(tmp_path / "clip") == "video"


def test_find_sequences(tmp_path):
    train = tmp_path / "MOT" / "train"
    _mot(train, "A")
    _mot(train, "B")
    _mot(train, "GTONLY", frames=False)
    _frames(tmp_path / "MOT" / "unlabelled", 2)  # frames without gt are not sequences
    _kitti(tmp_path / "kitti" / "training")
    found = find_sequences(tmp_path)
    assert [(s.kind, s.name) for s in found] == [("mot", "A"), ("mot", "B"), ("kitti", "0003")]
    with pytest.raises(InputError, match="GTONLY has no frames"):
        find_sequences(tmp_path, strict=True)
    assert [s.name for s in find_sequences(train / "A")] == ["A"]
    with pytest.raises(InputError, match="GTONLY has no frames"):
        find_sequences(train / "GTONLY")
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError, match="no sequence found"):
        find_sequences(tmp_path / "none")


# ---------------------------------------------------------------- real data

@pytest.mark.data
def test_real_crossing(data_dir):
    seq = open_sequence(data_dir / "sot" / "Crossing")
    assert (seq.kind, len(seq), seq.size) == ("otb", 120, (360, 240))
    assert len(seq.gt) == 120 and seq.gt.frames[0] == 1
    np.testing.assert_array_equal(seq.gt.boxes[0], [205, 151, 17, 50])
    assert seq.image(119).shape == (240, 360, 3)


@pytest.mark.data
def test_real_bag(data_dir):
    seq = open_sequence(data_dir / "sot" / "bag")
    assert (seq.kind, len(seq), seq.size) == ("vot", 196, (480, 360))
    b = seq.gt.boxes
    assert len(b) == 196 and (b[:, :2] >= 0).all()
    assert (b[:, 0] + b[:, 2] <= 480).all() and (b[:, 1] + b[:, 3] <= 360).all()


@pytest.mark.data
def test_real_tud_campus(data_dir):
    seq = open_sequence(data_dir / "mot15" / "TUD-Campus")
    assert (seq.kind, seq.name, len(seq), seq.fps, seq.size) == ("mot", "TUD-Campus", 71, 25.0, (640, 480))
    assert sorted(seq.tracks(min_length=1)) == list(range(1, 9))
    assert seq.gt.frames.min() == 1 and seq.gt.frames.max() == 71
    np.testing.assert_array_equal(seq.gt.frame(1).track(1).boxes[0], [399, 182, 121, 229])
    assert seq.image(70).shape == (480, 640, 3)
    seq.release()


@pytest.mark.data
def test_real_tud_stadtmitte(data_dir):
    seq = open_sequence(data_dir / "mot15" / "TUD-Stadtmitte")
    assert (len(seq), seq.size) == (179, (640, 480))
    assert len(seq.gt) == 1156 and len(seq.tracks(min_length=1)) == 10


@pytest.mark.data
def test_real_mot15_root(data_dir):
    names = [s.name for s in find_sequences(data_dir / "mot15")]
    assert names == ["TUD-Campus", "TUD-Stadtmitte"]
    with pytest.raises(InputError, match="sequence Venice-2 has no frames"):
        open_sequence(data_dir / "mot15" / "Venice-2")
