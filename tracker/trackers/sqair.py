"""The ``sqair`` tracker: unsupervised detection and tracking with SQAIR.

SQAIR finds its own objects, so it needs no ``--init`` boxes and no proposals: every frame
is turned into a small canvas, the model propagates the objects it knows and discovers new
ones, and their boxes are mapped back to frame pixels.

Two modes:

- ``mode=cctv`` (the default): the canvas is the foreground against a
  background estimate (:mod:`attentrack.tracker.sqair.cctv`). Needs weights fitted to the camera
  (``track --fit`` fits them on the video itself and saves them with the camera's median
  background; reuse them with ``--weights`` and the same background is used, adapting slowly).
- ``mode=intensity``: the canvas is the grey image itself, for Moving-MNIST-like videos
  (bright objects on black); the shipped Moving MNIST weights are the default.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.boxes import clip_to_frame
from attentrack.tracker.errors import InputError

SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "sqair_moving_mnist.pt"


class SQAIRTracker(Tracker):
    """SQAIR (Kosiorek et al. 2018): objects are discovered and propagated by a generative model
    fitted without labels."""

    tracker_id = "sqair"
    summary = ("SQAIR (Kosiorek et al. 2018), unsupervised: discovers, propagates and forgets objects; "
               "Moving MNIST weights ship, CCTV models are fitted per camera with --fit")
    model_card = "tracker/weights/SQAIR_MODEL_CARD.md"
    #: the tracker starts its own tracks (no --init, no proposals)
    self_starting = True

    def __init__(self, weights: str = "", mode: str = "cctv", background: str = "auto", adapt: float = 0.001,
                 canvas_width: int = 0, canvas_height: int = 0, max_objects: int = 8,
                 fit_steps: int = 600, fit_minutes: float = 0.0, fit_frames: int = 20000, save: str = "",
                 pres_prior: float = 1e-5, pretrain_steps: int = 1500, min_mass: float = 0.1,
                 max_size_std: float = 2.0, particles: int = 1, snap: bool = True, seed: int = 0,
                 device: str = "cpu") -> None:
        """Build the tracker.

        Args:
            weights: SQAIR weights file (default: the shipped Moving MNIST weights with
                ``mode=intensity``; for CCTV, weights fitted to the camera).
            mode: ``cctv`` (foreground of a static camera) or ``intensity`` (the grey image:
                bright objects on black, e.g. Moving MNIST).
            background: background model of ``cctv``: ``median`` (the camera's median
                background: the one saved with fitted weights, or after ``--fit`` the video's),
                ``mog2`` (OpenCV's, learnt online from the stream) or ``auto`` (``median`` when
                the weights carry a background, else ``mog2``).
            adapt: ``median`` background: per-frame rate at which background pixels follow
                the stream (slow light changes; 0: fixed). After ``--fit`` the video is
                tracked against its own median, adapted at this rate too (the median of 50
                frames is refined, and light changes within the video followed).
            canvas_width: canvas width in pixels (0: the weights', or 80 for a new fitted
                model); weights for another canvas are refused.
            canvas_height: canvas height in pixels (0: the weights', or 60 for a new model).
            max_objects: object slots of a new (fitted) model.
            fit_steps: optimiser steps of ``--fit``.
            fit_minutes: stop fitting after this long (0: no limit).
            fit_frames: ``--fit`` uses at most the video's first this many frames (0: all); the
                fit keeps one small float16 canvas per frame (9.6 kB at 80x60), never the frames.
            save: where ``--fit`` saves the fitted weights (default OUT/sqair_fit/sqair.pt).
            pres_prior: prior probability that discovery adds one more object (``--fit``;
                lower: fewer, whole objects).
            pretrain_steps: glimpse pre-training steps on the video's foreground blobs before
                a fresh ``--fit`` (0: none).
            min_mass: ``cctv`` only: report an object only when its rendered foreground
                adds up to this share of an expected object's area (the prior's window);
                smaller objects (noise, slivers of people) are still tracked, not reported.
            max_size_std: ``cctv`` only: do not report an object whose box is wider than the
                prior's window this many prior standard deviations above its mean width (2:
                outside the 95 % range; such a box holds a group of people explained as one);
                the object is still tracked; 0: no limit.
            particles: posterior samples followed while tracking, reporting at each frame the
                one with the highest importance weight so far (1: posterior means,
                deterministic; the K samples run as one batch: 5 halve the frame rate of an
                80x60 CCTV model in ``attentrack bench sqair --particles 5``).
            snap: ``cctv`` only: fit each reported box to the foreground at the mask's
                resolution (each edge moves at most one canvas pixel outwards; see
                :func:`attentrack.tracker.sqair.cctv.snap.snap_box_to_mask`) instead of the coarse canvas box
                scaled up.
            seed: random seed of ``--fit`` (initialisation, pre-training, training) and of the
                tracking samples when ``particles`` > 1.
            device: only ``cpu`` is used (the model is small).
        """
        super().__init__()
        if mode not in ("cctv", "intensity"):
            raise InputError(f"sqair mode must be cctv or intensity, not {mode!r}")
        if background not in ("auto", "median", "mog2"):
            raise InputError(f"sqair background must be auto, median or mog2, not {background!r}")
        if not 0.0 <= float(adapt) < 1.0:
            raise InputError(f"adapt must lie in [0, 1), not {adapt}")
        self.mode, self.background, self.adapt = mode, background, float(adapt)
        self._camera_background = None
        self.fit_steps, self.fit_minutes, self.save = fit_steps, fit_minutes, save
        if int(fit_frames) < 0 or int(fit_frames) == 1:
            raise InputError(f"fit_frames must be 0 (all) or at least 2, not {fit_frames}")
        self.fit_frames = int(fit_frames)
        self.pres_prior, self.pretrain_steps = float(pres_prior), int(pretrain_steps)
        self.min_mass = float(min_mass)
        if float(max_size_std) < 0:
            raise InputError(f"max_size_std must be 0 (no limit) or positive, not {max_size_std}")
        self.max_size_std = float(max_size_std)
        self.snap = bool(snap)
        self.seed = int(seed)
        if int(particles) < 1:
            raise InputError(f"particles must be at least 1, not {particles}")
        self.particles = int(particles)
        if not 0.0 <= self.min_mass <= 1.0:
            raise InputError(f"min_mass must be between 0 and 1, not {min_mass}")
        if not 0.0 < self.pres_prior < 1.0:
            raise InputError(f"pres_prior must be between 0 and 1, not {pres_prior}")
        self._asked = (canvas_width or None, canvas_height or None)
        #: whether :meth:`fit` already checked this run's video for camera motion
        self._camera_checked = False
        self.canvas_size = (canvas_width or 80, canvas_height or 60)
        self.max_objects = max_objects
        self.model = None
        self._canvas = None
        self._runner = None
        self._frame_size: tuple[int, int] | None = None
        path = weights or (str(SHIPPED_WEIGHTS) if mode == "intensity" else "")
        if path:
            self._load(path)

    @property
    def static_camera_user(self) -> str:
        """``cctv`` mode assumes a static camera (unless :meth:`fit` has checked the video)."""
        from attentrack.tracker.sqair.cctv.videos import STATIC_CAMERA_USER

        return STATIC_CAMERA_USER if self.mode == "cctv" and not self._camera_checked else ""

    # -- set-up ------------------------------------------------------------------------------

    def _load(self, path: str) -> None:
        from attentrack.tracker.sqair.cctv.background import camera_background
        from attentrack.tracker.sqair.model import model_from_checkpoint, read_checkpoint

        checkpoint = read_checkpoint(path)
        self.model = model_from_checkpoint(checkpoint, path, height=self._asked[1], width=self._asked[0])
        self.canvas_size = (self.model.config.width, self.model.config.height)
        if self.mode == "cctv":
            self._camera_background = camera_background(checkpoint.metadata)
            if self._camera_background is None and self.background == "median":
                raise InputError(f"{path} carries no camera background (fitted before backgrounds were saved?): "
                                 "use -p background=mog2, or fit again with --fit")
        self._start_runner()

    def _start_runner(self) -> None:
        from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas
        from attentrack.tracker.sqair.cctv.tracking import CanvasTracker

        cctv = self.mode == "cctv"
        self._runner = CanvasTracker(self.model, particles=self.particles, seed=self.seed,  # same video, same samples
                                     min_mass=self.min_mass if cctv else 0.0,
                                     max_size_std=self.max_size_std if cctv else 0.0)
        w, h = self.canvas_size
        if cctv:
            kind = self.background
            if kind == "auto":
                kind = "median" if self._camera_background is not None else "mog2"
            self._canvas = ForegroundCanvas(w, h, kind, adapt=self.adapt)
            if kind == "median" and self._camera_background is not None:
                self._canvas.set_background_image(self._camera_background)
        else:
            self._canvas = lambda frame: cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (w, h),
                                                    interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    def fit(self, source: str, out_dir: str | Path, progress: bool = True) -> Path:
        """Fit the model without labels on the video ``source`` (resumable) and save it.

        The checkpoint lives in ``OUT/sqair_fit/``; an interrupted fit continues from it.

        Returns:
            the path of the fitted weights.
        """
        from attentrack.tracker.sqair.cctv.background import background_extra, camera_background
        from attentrack.tracker.sqair.cctv.blobs import blob_frames, blob_shape_prior, foreground_blobs
        from attentrack.tracker.sqair.cctv.canvas import ForegroundCanvas
        from attentrack.tracker.sqair.cctv.config import cctv_config
        from attentrack.tracker.sqair.cctv.fit import fit_cctv
        from attentrack.tracker.sqair.cctv.videos import fit_canvases
        from attentrack.tracker.sqair.model import save_weights

        if self.mode != "cctv":
            raise InputError("--fit is for CCTV video (mode=cctv)")
        w, h = self.canvas_size
        median = ForegroundCanvas(w, h, "median")
        canvases, total = fit_canvases(source, median, self.fit_frames)  # streamed: bounded memory
        if total > len(canvases):
            warnings.warn(f"fitting on the first {len(canvases)} of {total} frames (-p fit_frames)", stacklevel=2)
        scale, aspect = blob_shape_prior(foreground_blobs(blob_frames(canvases))[0], w, h)
        config = cctv_config(w, h, self.max_objects, scale, aspect, self.pres_prior)
        if self.model is not None and self.model.config.to_dict() != config.to_dict():
            config = self.model.config
        run_dir = Path(out_dir) / "sqair_fit"
        self.model = fit_cctv([canvases], run_dir, config, steps=self.fit_steps, max_minutes=self.fit_minutes,
                              progress=progress, pretrain_steps=self.pretrain_steps, seed=self.seed)
        target = Path(self.save) if self.save else run_dir / "sqair.pt"
        saved = background_extra(median)
        save_weights(self.model, target, metadata=saved)  # the camera's background goes with it
        self.background = "median"  # the video's own median
        # as saved (whole grey levels), so that tracking after --fit equals tracking with --weights
        # of the saved file: the tracker is sensitive to half a grey level of its background
        self._camera_background = camera_background(saved)
        self._camera_checked = True  # fit_canvases warned if the camera moves
        self._start_runner()
        return target

    # -- tracking ----------------------------------------------------------------------------

    def _require_model(self) -> None:
        if self.model is None:
            raise InputError("the sqair tracker needs weights for this camera: fit them with "
                             "`track VIDEO --model sqair --fit` or give --weights")

    def _step(self, frame: np.ndarray) -> list[Track]:
        from attentrack.tracker.sqair.cctv.snap import snap_box_to_mask

        self._require_model()
        fh, fw = frame.shape[:2]
        if self._frame_size is None:
            self._frame_size = (fw, fh)
        canvas = self._canvas(frame)
        sx, sy = fw / self.canvas_size[0], fh / self.canvas_size[1]
        out = []
        mask = getattr(self._canvas, "last_mask", None) if self.snap else None
        for t in self._runner.step(canvas):
            x, y, w, h = (float(v) for v in t.box)
            box = np.array([x * sx, y * sy, w * sx, h * sy])
            if mask is not None:
                box = snap_box_to_mask(box, mask, (fw, fh), (sx, sy))
            box = clip_to_frame(box[None], fw, fh)[0]
            if box[2] > 0 and box[3] > 0:
                out.append(Track(t.track_id, box, t.score))
        return out

    def start(self, frame, boxes):
        """Take in the first frame; SQAIR finds its own objects, so given boxes are ignored with a warning."""
        if len(np.asarray(boxes).reshape(-1, 4)):
            warnings.warn("sqair finds its own objects; the given boxes are ignored", stacklevel=2)
        self._last = self._step(frame)
        return []

    def update(self, frame):
        """Advance the model one frame; returns the objects it reports."""
        return self._step(frame)

    def remove(self, track_ids):
        """SQAIR forgets objects itself (presence drops to 0); explicit removal is ignored."""

    @property
    def track_ids(self):
        """Ids of the objects present in the particle reported last."""
        return [] if self._runner is None else self._runner.live_ids

    def reset(self) -> None:
        """Forget every object; ids start again at 1."""
        if self._runner is not None:
            self._runner.reset()
        self._next_id = 1
