"""Box conversions, IoU and parsing (boxes are x, y, w, h in pixels)."""

import numpy as np
import pytest

from attentrack.tracker.boxes import (
    as_boxes,
    centre_distance,
    check_boxes_in_frame,
    clip_to_frame,
    cxcywh_to_xywh,
    format_box,
    iou,
    iou_matrix,
    parse_box,
    xywh_to_cxcywh,
    xywh_to_xyxy,
    xyxy_to_xywh,
)
from attentrack.tracker.errors import InputError


def test_conversions_round_trip():
    rng = np.random.default_rng(0)
    boxes = np.c_[rng.uniform(0, 100, (20, 2)), rng.uniform(1, 50, (20, 2))]
    np.testing.assert_allclose(xyxy_to_xywh(xywh_to_xyxy(boxes)), boxes)
    np.testing.assert_allclose(cxcywh_to_xywh(xywh_to_cxcywh(boxes)), boxes)
    np.testing.assert_allclose(xywh_to_cxcywh([[10, 20, 4, 6]]), [[12, 23, 4, 6]])


def test_iou_values():
    a = [[0, 0, 10, 10]]
    assert iou_matrix(a, a)[0, 0] == pytest.approx(1.0)
    assert iou_matrix(a, [[5, 0, 10, 10]])[0, 0] == pytest.approx(50 / 150)
    assert iou_matrix(a, [[20, 20, 5, 5]])[0, 0] == 0.0
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)
    np.testing.assert_allclose(iou([[0, 0, 10, 10], [0, 0, 2, 2]], [[0, 0, 10, 10], [1, 1, 2, 2]]), [1.0, 1 / 7])
    # zero-area boxes give 0, not NaN
    assert iou_matrix([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0.0


def test_iou_matrix_matches_pairwise():
    rng = np.random.default_rng(1)
    a = np.c_[rng.uniform(0, 50, (7, 2)), rng.uniform(1, 30, (7, 2))]
    b = np.c_[rng.uniform(0, 50, (5, 2)), rng.uniform(1, 30, (5, 2))]
    m = iou_matrix(a, b)
    for i in range(7):
        np.testing.assert_allclose(m[i], iou(np.repeat(a[i:i + 1], 5, 0), b))


def test_centre_distance_and_clip():
    assert centre_distance([[0, 0, 2, 2]], [[3, 4, 2, 2]])[0] == pytest.approx(5.0)
    np.testing.assert_allclose(clip_to_frame([[-5, -5, 20, 20]], 10, 10), [[0, 0, 10, 10]])


@pytest.mark.parametrize("text", ["1,2,3,4", "1 2 3 4", "1.5, 2, 3, 4", "1\t2\t3\t4"])
def test_parse_box_accepts(text):
    assert parse_box(text).shape == (4,)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "1,2,-3,4", "1,2,0,4", "1,2,3,4,5", "nan,1,2,3"])
def test_parse_box_rejects(text):
    with pytest.raises(InputError):
        parse_box(text)


def test_as_boxes_shapes_and_errors():
    assert as_boxes([1, 2, 3, 4]).shape == (1, 4)
    assert as_boxes(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises((InputError, ValueError)):
        as_boxes([[1, 2, 3]])


def test_boxes_outside_frame_rejected():
    check_boxes_in_frame([[10, 10, 20, 20]], 100, 100)
    with pytest.raises(InputError, match="frame"):
        check_boxes_in_frame([[500, 500, 20, 20]], 100, 100)


def test_format_box_parses_back():
    np.testing.assert_allclose(parse_box(format_box([1.25, 2.5, 3.0, 4.75])), [1.25, 2.5, 3.0, 4.75])
