"""The README's Python API example runs as written, on a real clip."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import attentrack

REPO = Path(__file__).resolve().parents[2]


def readme_api_example() -> str:
    """The first ``python`` code block under the README's "Python API" heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.data
def test_readme_api_example_runs(data_dir, tmp_path, monkeypatch, capsys):
    code = readme_api_example().replace("../shared/data", str(data_dir))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    table = capsys.readouterr().out
    assert "COMBINED" in table and "IDF1" in table
    rows = attentrack.read_mot(tmp_path / "out" / "TUD-Campus.txt")
    assert len(rows) > 0 and set(np.unique(rows.ids)) == {1}


@pytest.mark.data
def test_iter_tracks_streams_and_track_collects(data_dir):
    clip = data_dir / "mot15" / "TUD-Campus" / "TUD-Campus.mp4"
    seen = [(i, [t.track_id for t in tracks]) for i, tracks in
            attentrack.iter_tracks(clip, "static", init=[(399, 182, 121, 229)], max_frames=5)]
    assert seen == [(i, [1]) for i in range(5)]
    result = attentrack.track(clip, "static", init=[(399, 182, 121, 229), (10, 10, 40, 80)], max_frames=4)
    assert result.frames == 4 and result.track_ids == [1, 2] and len(result.rows) == 8
    np.testing.assert_allclose(result.rows.boxes[0], [399, 182, 121, 229])
    # the rows as ground truth: confidence 1 (TrackEval ignores ground truth whose int(conf) is 0)
    gt = dataclasses.replace(result.rows, conf=np.ones(len(result.rows)))
    score = attentrack.evaluate_mot({"s": gt}, {"s": result.rows})
    assert score.overall.mota == pytest.approx(1.0) and score.overall.idf1 == pytest.approx(1.0)


def test_api_errors_are_one_line_input_errors(tmp_path):
    with pytest.raises(attentrack.AttentrackError, match="no such file"):
        attentrack.track(tmp_path / "missing.mp4", "static", init=[(0, 0, 5, 5)])
    with pytest.raises(attentrack.AttentrackError, match="unknown model"):
        attentrack.create_tracker("no-such-tracker")
    with pytest.raises(attentrack.AttentrackError, match="options go with a tracker name"):
        list(attentrack.iter_tracks("synthetic:frames=2,size=64x48,objects=1,seed=0",
                                    attentrack.create_tracker("static"), init=[(1, 1, 5, 5)], options={"x": 1}))
