"""OTB and VOT ground-truth readers and writers."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.datasets.otb import read_otb, write_otb
from attentrack.datasets.vot import box_to_polygon, polygon_to_box, read_vot, read_vot_polygons, write_vot
from attentrack.tracker.errors import InputError


def _write(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------- OTB

def test_otb_separators_and_absent_rows(tmp_path):
    p = _write(tmp_path / "groundtruth_rect.txt",
               "1,2,3,4\n5\t6\t7\t8\n9 10  11 12\n13, 14, 15, 16\nNaN\n0,0,0,0\nnan,nan,nan,nan\n\n")
    boxes, valid = read_otb(p)
    assert boxes.shape == (7, 4) and boxes.dtype == np.float64
    assert valid.tolist() == [True] * 4 + [False] * 3
    np.testing.assert_array_equal(boxes[:4], np.arange(1, 17).reshape(4, 4))
    assert np.isnan(boxes[4:]).all()


@pytest.mark.parametrize("line, what", [
    ("1,2,3", "4 values"),
    ("1,2,x,4", "not a list of numbers"),
    ("1,2,-3,4", "negative"),
])
def test_otb_malformed_line_names_file_and_line(tmp_path, line, what):
    p = _write(tmp_path / "groundtruth_rect.txt", f"1,2,3,4\n2,3,4,5\n{line}\n")
    with pytest.raises(InputError, match=rf"groundtruth_rect\.txt:3: .*{what}"):
        read_otb(p)


def test_otb_blank_line_inside_is_an_error(tmp_path):
    p = _write(tmp_path / "g.txt", "1,2,3,4\n\n1,2,3,4\n")
    with pytest.raises(InputError, match=r"g\.txt:2: empty line"):
        read_otb(p)


def test_otb_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_otb(tmp_path / "nope.txt")


def test_otb_round_trip(tmp_path):
    boxes = np.array([[1.5, 2, 30, 40], [0, 0, 1, 1], [np.nan] * 4, [7.25, 8, 9, 10]])
    valid = np.array([True, False, True, True])
    write_otb(tmp_path / "gt.txt", boxes, valid)
    assert (tmp_path / "gt.txt").read_text().splitlines()[:2] == ["1.5,2,30,40", "0,0,0,0"]
    back, ok = read_otb(tmp_path / "gt.txt")
    assert ok.tolist() == [True, False, False, True]
    np.testing.assert_allclose(back[ok], boxes[[0, 3]])


# ---------------------------------------------------------------- VOT

def test_vot_polygon_becomes_bounding_box(tmp_path):
    p = _write(tmp_path / "groundtruth.txt",
               "10,20,30,10,40,30,20,40\n"   # rotated square
               "5,6,7,8\n"                  # plain rectangle
               "0,0,0,0,0,0,0,0\n"          # absent
               "NaN\n"
               "nan,nan,nan,nan,nan,nan,nan,nan\n")
    boxes, valid = read_vot(p)
    assert valid.tolist() == [True, True, False, False, False]
    np.testing.assert_allclose(boxes[0], [10, 10, 30, 30])
    np.testing.assert_allclose(boxes[1], [5, 6, 7, 8])
    assert np.isnan(boxes[2:]).all()
    polys, pvalid = read_vot_polygons(p)
    assert polys.shape == (5, 8) and pvalid.tolist() == valid.tolist()
    np.testing.assert_allclose(polys[1], [5, 6, 12, 6, 12, 14, 5, 14])


@pytest.mark.parametrize("line, what", [
    ("1,2,3,4,5,6", "4 values .* or 8"),
    ("1,2,3,4,5,6,7,y", "not a list of numbers"),
    ("m1,2,3,4", "mask"),
])
def test_vot_malformed_line(tmp_path, line, what):
    p = _write(tmp_path / "groundtruth.txt", f"1,2,3,4\n{line}\n")
    with pytest.raises(InputError, match=rf"groundtruth\.txt:2: .*{what}"):
        read_vot(p)


def test_vot_round_trip_boxes_and_polygons(tmp_path):
    boxes = np.array([[1, 2, 3, 4], [10.5, 11, 12, 13]])
    write_vot(tmp_path / "a.txt", boxes, valid=[True, False])
    back, ok = read_vot(tmp_path / "a.txt")
    assert ok.tolist() == [True, False]
    np.testing.assert_allclose(back[0], boxes[0])
    polys = box_to_polygon(boxes)
    write_vot(tmp_path / "b.txt", polys)
    back, ok = read_vot(tmp_path / "b.txt")
    assert ok.all()
    np.testing.assert_allclose(back, boxes)
    np.testing.assert_allclose(polygon_to_box(polys), boxes)


# ---------------------------------------------------------------- real data

@pytest.mark.data
def test_crossing_ground_truth(data_dir):
    boxes, valid = read_otb(data_dir / "sot" / "Crossing" / "groundtruth_rect.txt")
    assert boxes.shape == (120, 4) and valid.all()
    np.testing.assert_array_equal(boxes[0], [205, 151, 17, 50])


@pytest.mark.data
def test_bag_polygons_give_boxes_inside_frame(data_dir):
    boxes, valid = read_vot(data_dir / "sot" / "bag" / "groundtruth.txt")
    assert boxes.shape == (196, 4) and valid.all()
    assert (boxes[:, 2:] > 0).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 480).all() and (boxes[:, 1] + boxes[:, 3] <= 360).all()
    # first line: 334.02,128.36,438.19,188.78,396.39,260.83,292.23,200.41
    np.testing.assert_allclose(boxes[0], [292.23, 128.36, 438.19 - 292.23, 260.83 - 128.36])
