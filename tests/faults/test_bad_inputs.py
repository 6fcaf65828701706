"""Bad input found by the fault probe gets one line and exit status 2 (in this process: the
fault table runs the same cases in fresh processes)."""

from __future__ import annotations

import pytest

from attentrack.tracker.boxes import check_boxes_in_frame
from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import TRACKERS


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in err, err
    return lines[0]


def test_a_box_holding_the_frame_is_named_so():
    with pytest.raises(InputError, match="holds the whole 160x120 frame"):
        check_boxes_in_frame([[-100, -100, 100000, 100000]], 160, 120)
    with pytest.raises(InputError, match=r"lies outside the 160x120 frame \(under 1% inside\)"):
        check_boxes_in_frame([[150, 110, 10000, 10000]], 160, 120)
    with pytest.raises(InputError, match=r"\(0% inside\)"):
        check_boxes_in_frame([[500, 500, 10, 10]], 160, 120)


@pytest.mark.parametrize("value, needle", [("nan", "finite"), ("inf", "finite"), ("-3", "negative")])
def test_model_options_must_be_finite_and_not_negative(value, needle):
    with pytest.raises(InputError, match=needle):
        TRACKERS.options("blobs", {"min_iou": value})
    with pytest.raises(InputError, match=needle):
        TRACKERS.options("blobs", {"min_iou": float(value)})  # from the Python API too


def test_signed_options_may_be_negative():
    from attentrack.tracker.base import SingleObjectTracker

    class OffsetTracker(SingleObjectTracker):
        tracker_id = "test-offset"
        signed_options = ("dx",)

        def __init__(self, dx: float = 0.0, scale: float = 1.0) -> None:
            super().__init__()

        def init_one(self, frame, box):
            return box

        def update_one(self, state, frame):
            return state, 1.0

    try:
        assert TRACKERS.options("test-offset", {"dx": "-2.5"}) == {"dx": -2.5}
        with pytest.raises(InputError, match="negative"):
            TRACKERS.options("test-offset", {"scale": "-1"})
    finally:
        TRACKERS.unregister("test-offset")


def test_cli_one_liners(cli, clip, tmp_path):
    (tmp_path / "gt.txt").write_text("")
    (tmp_path / "pred.txt").write_text("1,1,20,30,24,24,1,-1,-1,-1\n")
    cases = {
        "synthetic too large": (["track", "synthetic:frames=5,size=100000x64", "-m", "static", "--init", "1,1,5,5",
                                 "-o", tmp_path / "o1"], "too large"),
        "empty ground truth": (["eval", "mot", "--gt", tmp_path / "gt.txt", "--pred", tmp_path / "pred.txt"], "no boxes"),
        "name with a folder": (["track", clip, "-m", "static", "--init", "20,30,24,24", "--name", "a/b",
                                "-o", tmp_path / "o2"], "plain file name"),
    }
    for what, (args, needle) in cases.items():
        code, _, err = cli(args)
        assert code == 2, (what, err)
        assert needle in _one_error_line(err), what
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_out_of_memory_is_one_line(cli, monkeypatch):
    import attentrack.tools.cli as cli_module

    def explode(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(cli_module.cli, "main", explode)
    code, _, err = cli(["models"])
    assert code == 2 and "out of memory" in _one_error_line(err)


def test_blobs_warns_that_it_does_not_follow_init_boxes(clip, tmp_path):
    import attentrack

    with pytest.warns(UserWarning, match="blobs finds its own objects"):
        attentrack.track(str(clip), "blobs", init=[(20, 30, 24, 24)], max_frames=3)


def test_batch_checks_ground_truth_before_any_video(tmp_path, clip):
    from attentrack.tracker.batch import BatchOptions, LocalBackend, VideoJob, run_batch

    (tmp_path / "gt.txt").write_text("1,1,20,30,24,24,1,-1,-1,-1\n2,1,x,30,24,24,1,-1,-1,-1\n")
    jobs = [VideoJob("a", str(clip), ((20.0, 30.0, 24.0, 24.0),), gt=str(tmp_path / "gt.txt"))]
    with pytest.raises(InputError, match=r"gt\.txt:2"):
        run_batch(jobs, BatchOptions(model="static"), tmp_path / "out", LocalBackend(1))
    assert not (tmp_path / "out").exists()
