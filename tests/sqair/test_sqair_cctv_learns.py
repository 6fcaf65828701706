"""SQAIR fitted without labels on a real static-camera clip (TUD-Campus) learns, and follows
people: its objects persist from frame to frame instead of being forgotten and re-discovered;
also when the people are small (a wider view of the same clip)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from attentrack.datasets.wide_view import surround_from_samples, wide_view_frame
from attentrack.tracker.sqair.cctv.blobs import blob_frames, blob_shape_prior, foreground_blobs
from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas
from attentrack.tracker.sqair.cctv.config import cctv_config
from attentrack.tracker.sqair.cctv.fit import fit_cctv
from attentrack.tracker.sqair.cctv.tracking import CanvasTracker
from attentrack.tracker.sqair.cctv.videos import read_frames, video_canvases

pytestmark = pytest.mark.slow  # fits SQAIR to a real clip at two scales


@pytest.mark.parametrize("zoom_out", [1.0, 1.5])
def test_short_fit_on_tud_campus_raises_the_bound_and_keeps_identities(tmp_path, data_dir, zoom_out):
    """At 40x30 TUD-Campus's people are about 5 x 11 canvas pixels; seen 1.5 times further
    away, 3 x 7, where a size-independent likelihood (sigma 0.3) discovered no one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        frames = read_frames(data_dir / "mot15" / "TUD-Campus" / "TUD-Campus.mp4", max_frames=40)
        if zoom_out > 1:
            surround = surround_from_samples(frames[::4], zoom_out)
            frames = [wide_view_frame(f, surround, zoom_out) for f in frames]
        canvases = video_canvases(frames, ForegroundCanvas(40, 30, "median"))
        scale, aspect = blob_shape_prior(foreground_blobs(blob_frames(canvases))[0], 40, 30)
        config = cctv_config(40, 30, max_objects=4, scale_prior=scale, aspect_prior=aspect, disc_pres_prior=1e-5)
        model = fit_cctv([canvases], tmp_path / "fit", config, steps=60, progress=False, batch=4, particles=2,
                         pretrain_steps=100)
    finally:
        torch.set_num_threads(threads)
    log = [json.loads(line) for line in (tmp_path / "fit" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["bound_per_frame"] > log[0]["bound_per_frame"] + 50, (log[0], log[-1])
    assert log[-1]["mean_objects"] >= 1, log[-1]
    runner = CanvasTracker(model, min_mass=0.1)
    lifetimes: dict[int, int] = {}
    for canvas in canvases[:20]:
        for track in runner.step(canvas):
            lifetimes[track.track_id] = lifetimes.get(track.track_id, 0) + 1
    assert lifetimes, "no object reported on a clip full of people"
    # people stay in view for all 20 frames: an object re-discovered every frame would live 1 frame
    assert np.median(list(lifetimes.values())) >= 5, lifetimes
