"""attentrack: video object tracking with attention models (HART, SQAIR, excitation backprop,
DRAW, the attentional face model).

The public API, in five lines::

    import attentrack

    tracker = attentrack.create_tracker("hart")
    result = attentrack.track("TUD-Campus.mp4", tracker, init=[(399, 182, 121, 229)])
    result.save("out/TUD-Campus.txt")
    print(attentrack.evaluate_mot("TUD-Campus/gt/gt.txt", "out/TUD-Campus.txt").format_table())

Names (each loaded on first use, so ``import attentrack`` is fast and pulls in no torch):

* :func:`open_source` — frames from a video file, image folder or glob, camera, RTSP/HTTP URL.
* :func:`create_tracker`, :func:`available_trackers` — the registered trackers.
* :func:`track` (a recorded clip, collected) and :func:`iter_tracks` (streaming, one frame's
  tracks at a time) — run a tracker; boxes are ``x, y, w, h`` in pixels.
* :func:`evaluate_mot` — MOTChallenge metrics (MOTA, IDF1, HOTA ...) of files or rows.
* :func:`read_mot`, :func:`write_mot` — MOTChallenge files.
* :class:`Tracker`, :class:`Track`, :class:`TrackingResult`, :class:`AttentrackError`.

Subpackages: ``attentrack.tracker`` (pipeline, trackers, metrics), ``attentrack.datasets``,
``attentrack.saliency``, ``attentrack.generative``, ``attentrack.tools`` (the command line).
"""

from __future__ import annotations

import importlib

#: public name -> the module that defines it
_PUBLIC = {
    "open_source": "attentrack.tracker.sources",
    "create_tracker": "attentrack.tracker.base",
    "available_trackers": "attentrack.tracker.base",
    "Tracker": "attentrack.tracker.base",
    "Track": "attentrack.tracker.tracks",
    "track": "attentrack.tracker.api",
    "iter_tracks": "attentrack.tracker.api",
    "TrackingResult": "attentrack.tracker.api",
    "evaluate_mot": "attentrack.tracker.api",
    "read_mot": "attentrack.datasets.mot",
    "write_mot": "attentrack.datasets.mot",
    "AttentrackError": "attentrack.tracker.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attentrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
