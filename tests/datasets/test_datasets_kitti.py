"""KITTI tracking labels: reader, writer, conversion to MotRows."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.kitti import KittiLabels, read_kitti, write_kitti
from attentrack.datasets.mot import MotRows
from attentrack.tracker.errors import InputError

# verbatim KITTI label rows, so E501 is waived for the string
LABELS = """\
0 -1 DontCare -1 -1 -10.000000 219.310000 188.490000 245.500000 218.560000 -1000.000000 -1000.000000 -1000.000000 -10.000000 -1.000000 -1.000000 -1.000000
0 0 Van 0 0 -1.793451 296.744956 161.752147 455.226042 292.372804 2.000000 1.823255 4.433886 -4.552284 1.858523 13.410495 -2.115488
0 1 Pedestrian 0 0 -0.5 700.0 150.0 720.0 210.0 1.7 0.6 0.8 2.0 1.6 15.0 -0.4
1 0 Van 0 1 -1.8 300.0 160.0 460.0 290.0 2.0 1.8 4.4 -4.5 1.8 13.0 -2.1
2 0 Van 1 2 -1.8 310.0 165.0 470.0 295.0 2.0 1.8 4.4 -4.5 1.8 12.5 -2.1
2 2 Car 0 0 0.1 10.0 20.0 50.0 60.0 1.5 1.6 3.9 5.0 1.7 30.0 0.2
"""  # noqa: E501


@pytest.fixture
def label_file(tmp_path):
    p = tmp_path / "0000.txt"
    p.write_text(LABELS)
    return p


def test_read_kitti_columns(label_file):
    lab = read_kitti(label_file)
    assert len(lab) == 6
    assert lab.frames.tolist() == [0, 0, 0, 1, 2, 2]  # 0-based as in the file
    assert lab.ids.tolist() == [-1, 0, 1, 0, 0, 2]
    assert lab.class_names == ["Car", "DontCare", "Pedestrian", "Van"]
    np.testing.assert_allclose(lab.bbox[1], [296.744956, 161.752147, 455.226042, 292.372804])
    np.testing.assert_allclose(lab.dimensions[1], [2.0, 1.823255, 4.433886])
    np.testing.assert_allclose(lab.location[1], [-4.552284, 1.858523, 13.410495])
    assert lab.occluded.tolist() == [-1, 0, 0, 1, 2, 0]
    assert np.isnan(lab.score).all()


def test_to_mot_is_one_based_and_drops_dontcare(label_file):
    rows = read_kitti(label_file).to_mot()
    assert isinstance(rows, MotRows) and len(rows) == 5
    assert rows.frames.tolist() == [1, 1, 2, 3, 3]
    assert (rows.ids >= 0).all() and (rows.conf == 1).all()
    np.testing.assert_allclose(rows.boxes[0], [296.744956, 161.752147, 158.481086, 130.620657])


def test_class_filter_and_dontcare_as_ignore_rows(label_file):
    lab = read_kitti(label_file)
    vans = lab.to_mot(classes="van")
    assert vans.ids.tolist() == [0, 0, 0]
    with_dc = lab.to_mot(classes=["Car", "Pedestrian"], include_dontcare=True)
    assert with_dc.ids.tolist() == [-1, 1, 2]
    assert with_dc.conf.tolist() == [0.0, 1.0, 1.0]
    assert lab.of_class("Pedestrian").ids.tolist() == [1]


def test_round_trip_with_and_without_score(label_file, tmp_path):
    lab = read_kitti(label_file)
    write_kitti(tmp_path / "out.txt", lab)
    back = read_kitti(tmp_path / "out.txt")
    assert len((tmp_path / "out.txt").read_text().splitlines()[0].split()) == 17
    assert back.types.tolist() == lab.types.tolist()
    np.testing.assert_allclose(back.bbox, lab.bbox, atol=1e-6)
    np.testing.assert_allclose(back.location, lab.location, atol=1e-6)
    # tracker output in MotRows -> KITTI results with a score column
    rows = MotRows(np.array([1, 2]), np.array([5, 5]), np.array([[1.0, 2, 3, 4], [2, 3, 4, 5]]),
                   np.array([0.9, 0.8]), np.full((2, 3), -1.0))
    res = KittiLabels.from_mot(rows, "Car")
    write_kitti(tmp_path / "res.txt", res)
    back = read_kitti(tmp_path / "res.txt")
    assert back.frames.tolist() == [0, 1]
    np.testing.assert_allclose(back.score, [0.9, 0.8])
    again = back.to_mot()
    np.testing.assert_allclose(again.boxes, rows.boxes)
    assert again.frames.tolist() == [1, 2]


@pytest.mark.parametrize("line, what", [
    ("0 1 Car 0 0 0 1 2 3 4 1 1 1 1 1 1", "17 values"),
    ("0 1 Car 0 0 0 1 2 3 x 1 1 1 1 1 1 1", "non-numeric"),
    ("0.5 1 Car 0 0 0 1 2 3 4 1 1 1 1 1 1 1", "frame"),
    ("0 1 Car 0 0 0 10 2 3 4 1 1 1 1 1 1 1", "right/bottom"),
])
def test_malformed_lines(tmp_path, line, what):
    p = tmp_path / "0001.txt"
    p.write_text(LABELS.splitlines()[1] + "\n" + line + "\n")
    with pytest.raises(InputError, match=rf"0001\.txt:2: .*{what}"):
        read_kitti(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_kitti(tmp_path / "0000.txt")
