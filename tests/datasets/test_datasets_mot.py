"""MOTChallenge readers and writers, on real files and on malformed ones."""

import numpy as np
import pytest

from attentrack.datasets.mot import MotRows, SeqInfo, read_mot, read_seqinfo, write_mot, write_seqinfo
from attentrack.tracker.errors import InputError


def test_round_trip(tmp_path):
    rows = MotRows(np.array([2, 1, 1]), np.array([5, 7, 3]), np.array([[1.5, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
                   np.array([0.5, 1.0, 0.25]), -np.ones((3, 3)))
    write_mot(tmp_path / "r.txt", rows)
    back = read_mot(tmp_path / "r.txt")
    assert back.frames.tolist() == [1, 1, 2] and back.ids.tolist() == [3, 7, 5]  # sorted by frame, id
    np.testing.assert_allclose(back.boxes[2], [1.5, 2, 3, 4])
    assert back.by_frame().keys() == {1, 2} and len(back.track(7)) == 1


@pytest.mark.parametrize("sep", [",", "\t", " ", ", "])
def test_separators(tmp_path, sep):
    (tmp_path / "gt.txt").write_text(sep.join(["1", "1", "10", "20", "30", "40", "1", "-1", "-1", "-1"]) + "\n")
    rows = read_mot(tmp_path / "gt.txt")
    np.testing.assert_allclose(rows.boxes, [[10, 20, 30, 40]])


def test_six_columns_and_confidence_filter(tmp_path):
    (tmp_path / "gt.txt").write_text("1,1,0,0,5,5\n1,2,0,0,5,5,0\n\n# comment\n")
    rows = read_mot(tmp_path / "gt.txt")
    assert len(rows) == 2 and rows.conf.tolist() == [1.0, 0.0]
    assert len(read_mot(tmp_path / "gt.txt", min_confidence=1)) == 1


@pytest.mark.parametrize("text, needle", [
    ("1,1,0,0,5\n", "at least 6"),
    ("1,1,a,0,5,5\n", "non-numeric"),
    ("1,1,0,0,-5,5\n", "negative"),
    ("1.5,1,0,0,5,5\n", "integer"),
    ("1,1,0,nan,5,5\n", "non-finite"),
])
def test_malformed_lines_name_the_line(tmp_path, text, needle):
    p = tmp_path / "gt.txt"
    p.write_text("1,1,0,0,5,5\n" + text)
    with pytest.raises(InputError, match=needle) as e:
        read_mot(p)
    assert ":2:" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_mot(tmp_path / "nope.txt")


def test_seqinfo_round_trip_and_errors(tmp_path):
    info = SeqInfo("SEQ", frame_rate=14, seq_length=71, im_width=640, im_height=480)
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path / "seqinfo.ini") == info
    (tmp_path / "bad.ini").write_text("[Sequence]\nframeRate=fast\n")
    with pytest.raises(InputError, match="malformed"):
        read_seqinfo(tmp_path / "bad.ini")


def test_real_tud_ground_truth(data_dir):
    rows = read_mot(data_dir / "mot15" / "TUD-Campus" / "gt" / "gt.txt")
    assert len(rows) == 359 and rows.frames.min() == 1 and rows.frames.max() == 71
    info = read_seqinfo(data_dir / "mot15" / "TUD-Campus" / "seqinfo.ini")
    assert (info.im_width, info.im_height, info.seq_length) == (640, 480, 71)
