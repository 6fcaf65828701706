"""SQAIR on static-camera (CCTV) video: background, foreground canvas, fitting, tracks.

The model never sees raw pixels: each frame becomes a small single-channel *foreground
canvas* (the foreground mask against an estimated background, shrunk with area averaging
to ``canvas_width x canvas_height``, values 0-1), on which people look like the blobs SQAIR
explains as objects. The background is OpenCV's MOG2 (online) or the per-pixel median of
frames sampled over the whole video (needs the video in advance; best for fitting). A fit
saves its median background with the weights (:func:`camera_background`), so tracking
later with those weights reads the same foreground as the fit did, adapting the background
slowly to light changes (``adapt``).

:func:`fit_cctv` fits SQAIR unsupervised on the canvases of one or more videos from the
same camera (random sub-sequences, curriculum over their length, IWAE + VIMCO; resumable
through :mod:`attentrack.tracker.sqair.train`). :class:`CanvasTracker` runs the model frame by frame
(posterior means, no sampling) and maps the objects back to full-resolution pixel boxes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from attentrack.tracker.boxes import mask_box
from attentrack.tracker.camera_motion import CameraMotionCheck
from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.model import SQAIR, ObjectState, SQAIRConfig, object_boxes_from_images

BACKGROUNDS = ("mog2", "median")

#: mean share of foreground pixels above which the camera is probably moving
MOVING_CAMERA_FOREGROUND = 0.35
#: evenly spaced frames whose per-pixel median is the background
BACKGROUND_SAMPLES = 50
#: most canvases whose foreground blobs are collected (window prior, glimpse pre-training)
MAX_BLOB_FRAMES = 2000
#: how the camera-motion warnings name the part of a run that assumes a static camera
STATIC_CAMERA_USER = "SQAIR's CCTV mode"


#: window area (canvas pixels) of the people the CCTV recipe was developed on: about 8 x 20
#: (TUD-Campus and TUD-Stadtmitte at 80x60, whose blob priors give 9 x 22 and 8 x 20)
REFERENCE_WINDOW_AREA = 160.0
#: likelihood standard deviation for objects at least that large (the Moving MNIST model's)
BASE_SIGMA = 0.3
#: smallest standard deviation the size rule gives (objects of a few canvas pixels)
MIN_SIGMA = 0.05


def size_factor(window_w: float, window_h: float) -> float:
    """How much smaller than the reference people a ``window_w x window_h`` canvas-pixel
    window is, as a length ratio: ``sqrt(area / REFERENCE_WINDOW_AREA)``, at most 1."""
    area = max(float(window_w) * float(window_h), 1e-6)
    return min(1.0, (area / REFERENCE_WINDOW_AREA) ** 0.5)


def likelihood_sigma(window_w: float, window_h: float) -> float:
    """The pixel likelihood's standard deviation for objects of a ``window_w x window_h``
    canvas-pixel window.

    An object's evidence (how many nats rendering it gains) grows with its area over
    ``sigma ** 2``, while what it costs (its presence and ``what``/``where`` codes) does not
    depend on its size. People a third as tall (a wider view) cover a ninth of the pixels and
    never pay for themselves at the size-independent ``sigma`` of 0.3: discovery switches off
    within the first steps of a fit and no one is ever found. So below
    :data:`REFERENCE_WINDOW_AREA` ``sigma`` shrinks with the square root of the window area,
    keeping a prior-sized object's evidence what it is at the reference size; at or above it
    ``sigma`` is :data:`BASE_SIGMA`. Never below :data:`MIN_SIGMA`.
    """
    return max(MIN_SIGMA, BASE_SIGMA * size_factor(window_w, window_h))


def cctv_config(width: int = 80, height: int = 60, max_objects: int = 8, scale_prior: float = 0.15,
                aspect_prior: float = 2.2, disc_pres_prior: float = 1e-3, sigma: float | None = None) -> SQAIRConfig:
    """Model settings for pedestrians seen by a static camera at a reduced resolution.

    The default window prior is for upright people near the camera (street level): about 0.15
    of the frame wide and 2.2 times as tall as wide; :func:`blob_shape_prior` measures it on
    the camera's own foreground instead. Windows are anchored (``anchor``): discovery on the
    residual's peak, propagation on the centroid of the foreground left inside the object's
    last window; people are a tenth of the canvas wide, too small for the original's
    position networks to find in minutes of fitting. Propagation is sequential
    (``sequential_propagation``): people overlap and change shape every frame, so each
    object explains away its part of the frame before the next reads it and re-reads its
    appearance through the discovery coder. Small glimpses and hidden layers keep fitting to
    minutes on a CPU.

    People smaller than the reference (about 8 x 20 canvas pixels) get the reference's model
    scaled down to their size: ``sigma`` (the likelihood's standard deviation) is
    :func:`likelihood_sigma` of the prior window unless given, and the window shifts' initial
    posterior noise shrinks by :func:`size_factor` (``shift_init_factor``). Without both, a
    fit on people a third the reference's height (a wider view of TUD-Stadtmitte) never
    discovers anyone.
    """
    win_w = scale_prior * width  # the prior window in canvas pixels
    win_h = win_w * aspect_prior
    if sigma is None:
        sigma = likelihood_sigma(win_w, win_h)
    return SQAIRConfig(height=height, width=width, max_objects=max_objects, glimpse=12, what_dim=16,
                       hidden=96, sigma=sigma, disc_pres_prior=disc_pres_prior, scale_prior=scale_prior,
                       scale_prior_std=0.5, aspect_prior=aspect_prior, shift_prior_std=0.6, anchor=True,
                       sequential_propagation=True, shift_init_factor=size_factor(win_w, win_h))


#: foreground blobs smaller than this share of the canvas are noise, not objects
MIN_BLOB_SHARE = 0.002


def foreground_blobs(canvases: np.ndarray, level: float = 0.5, min_share: float = MIN_BLOB_SHARE):
    """Connected foreground regions of every canvas.

    Args:
        canvases: ``(T, H, W)`` foreground canvases in ``[0, 1]``.
        level: canvas value above which a pixel is foreground.
        min_share: smallest region kept, as a share of the canvas area.

    Returns:
        ``(boxes, crops)``: ``(N, 4)`` float ``x, y, w, h`` in canvas pixels, and ``(N, H, W)``
        float32 canvases each holding one region's pixels (the others zeroed), shifted so the
        region's box is centred.
    """
    t_n, h, w = canvases.shape
    boxes, crops = [], []
    min_area = max(2, int(round(min_share * h * w)))
    for frame in canvases:
        n, labels, stats, _ = cv2.connectedComponentsWithStats((frame > level).astype(np.uint8), connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = (int(v) for v in stats[i])
            if area < min_area or bw >= w or bh >= h:
                continue
            crop = np.zeros((h, w), np.float32)
            top, left = (h - bh) // 2, (w - bw) // 2
            crop[top:top + bh, left:left + bw] = np.where(labels[y:y + bh, x:x + bw] == i, frame[y:y + bh, x:x + bw], 0.0)
            boxes.append((x, y, bw, bh))
            crops.append(crop)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(crops, np.float32).reshape(-1, h, w)


def blob_frames(canvases: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_BLOB_FRAMES` evenly spaced canvases of a video, as float32, for
    :func:`foreground_blobs` (a long video's every blob would not fit in memory)."""
    stride = max(1, -(-len(canvases) // MAX_BLOB_FRAMES))
    return np.asarray(canvases[::stride], np.float32)


def blob_shape_prior(boxes: np.ndarray, width: int, height: int, aspect: float = 2.4) -> tuple[float, float]:
    """The window prior of a camera from its foreground blobs (no labels), for upright people.

    Blobs are parts of people (legs, a head), whole people, and groups merged side by side:
    their widths say little, but the taller blobs are whole people. The object height is
    taken as the 75th percentile of blob heights and the width as that height over
    ``aspect`` (height / width of a standing person's box).

    Args:
        boxes: ``(N, 4)`` blob boxes ``x, y, w, h`` in canvas pixels (:func:`foreground_blobs`).
        width, height: canvas size.
        aspect: height / width of an object's window.

    Returns:
        ``(scale_prior, aspect)``: the window width as a share of the canvas width (clipped to
        0.03-0.5), and ``aspect``; the defaults of :func:`cctv_config` when there are fewer
        than 10 blobs.
    """
    if len(boxes) < 10:
        return 0.15, 2.2
    tall = float(np.percentile(boxes[:, 3], 75))
    return float(np.clip(tall / aspect / width, 0.03, 0.5)), float(aspect)


class ForegroundCanvas:
    """Frames -> foreground canvases.

    Args:
        width, height: canvas size in pixels.
        background: ``"mog2"`` (online) or ``"median"`` (needs :meth:`set_background` or
            :meth:`set_background_image`).
        threshold: grey-level difference from the median background that counts as
            foreground (median background only).
        adapt: median background only: each frame, the background pixels not marked as
            foreground move this share of the way to the frame's grey level (a selective
            running average that follows slow light changes; 0: the background stays fixed).
    """

    def __init__(self, width: int, height: int, background: str = "mog2", threshold: float = 25.0,
                 adapt: float = 0.0) -> None:
        if background not in BACKGROUNDS:
            raise InputError(f"unknown background {background!r}; use {' or '.join(BACKGROUNDS)}")
        if not 0.0 <= adapt < 1.0:
            raise InputError(f"background adapt rate must lie in [0, 1), got {adapt}")
        self.width, self.height, self.background, self.threshold = width, height, background, threshold
        self.adapt = float(adapt)
        self._median: np.ndarray | None = None
        self._mog2 = None
        self.last_mask: np.ndarray | None = None  # the mask of the last frame turned into a canvas
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        if background == "mog2":
            from attentrack.tracker.proposals import CLOSE_HEIGHT, CLOSE_WIDTH, MOG2Proposer

            self._mog2 = MOG2Proposer(scale=0.5, warmup=0, min_area=0.01, close_width=CLOSE_WIDTH, close_height=CLOSE_HEIGHT)

    def set_background(self, frames: list[np.ndarray]) -> None:
        """Estimate the median background from ``frames`` (``(H, W, 3)`` BGR or ``(H, W)``
        grey uint8)."""
        if not frames:
            raise InputError("no frames to estimate the background from")
        grey = [f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
        self._median = np.median(np.stack(grey), axis=0).astype(np.float32)

    @property
    def background_image(self) -> np.ndarray | None:
        """The median background, ``(H, W)`` float32 grey levels 0-255 (None before it is set)."""
        return self._median

    def set_background_image(self, grey: np.ndarray) -> None:
        """Use ``grey`` (``(H, W)`` grey levels 0-255, e.g. a camera's saved background) as the
        median background; it is resized to the frames when their size differs."""
        grey = np.asarray(grey)
        if grey.ndim != 2 or min(grey.shape) < 1:
            raise InputError(f"a background image must be (H, W) grey levels, got shape {grey.shape}")
        self._median = grey.astype(np.float32)

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """``(h, w)`` float32 foreground mask (0/1) of ``frame`` at some reduced resolution."""
        if self.background == "mog2":
            return (self._mog2.foreground(frame) > 0).astype(np.float32)
        if self._median is None:
            raise InputError("median background not estimated yet")
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        if self._median.shape != grey.shape:  # the same camera recorded at another size
            self._median = cv2.resize(self._median, grey.shape[::-1], interpolation=cv2.INTER_AREA)
        m = (np.abs(grey - self._median) > self.threshold).astype(np.uint8)
        if self.adapt > 0:
            still = m == 0
            self._median[still] += self.adapt * (grey[still] - self._median[still])
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, self._kernel)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, self._kernel, iterations=2)
        return m.astype(np.float32)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """``(height, width)`` float32 canvas in ``[0, 1]`` (the mask it came from is kept as
        :attr:`last_mask`)."""
        self.last_mask = self.mask(frame)
        return cv2.resize(self.last_mask, (self.width, self.height), interpolation=cv2.INTER_AREA)


def snap_box_to_mask(box: np.ndarray, mask: np.ndarray, frame_size: tuple[int, int], margin: tuple[float, float],
                     min_fill: float = 0.1) -> np.ndarray:
    """A box found on the coarse canvas, fitted to the foreground at the mask's resolution.

    The box is widened by ``margin`` on every side and shrunk to the tight box of the
    foreground pixels inside it; each edge therefore moves by at most ``margin`` outwards
    (a canvas pixel: the coarse box's rounding), so a neighbour's foreground beyond that is
    never taken in.

    Args:
        box: ``x, y, w, h`` in frame pixels.
        mask: ``(h, w)`` 0/1 foreground at any resolution covering the whole frame.
        frame_size: the frame's ``(width, height)`` in pixels.
        margin: ``(mx, my)`` in frame pixels.
        min_fill: keep ``box`` unchanged when the foreground covers less than this share of
            it (nothing to fit to).

    Returns:
        the fitted ``x, y, w, h`` in frame pixels (a copy of ``box`` when it is kept).
    """
    fw, fh = frame_size
    mh, mw = mask.shape[:2]
    kx, ky = mw / fw, mh / fh  # frame pixels -> mask pixels
    x0 = int(np.floor(max(0.0, box[0] - margin[0]) * kx))
    y0 = int(np.floor(max(0.0, box[1] - margin[1]) * ky))
    x1 = int(np.ceil(min(float(fw), box[0] + box[2] + margin[0]) * kx))
    y1 = int(np.ceil(min(float(fh), box[1] + box[3] + margin[1]) * ky))
    region = mask[y0:y1, x0:x1]
    filled = int((region > 0.5).sum())
    if filled == 0 or filled < min_fill * max(1.0, box[2] * kx * box[3] * ky):
        return np.asarray(box, np.float64).copy()
    x, y, w, h = mask_box(region, x0, y0, 0.5).astype(np.float64)  # in mask pixels
    return np.array([x / kx, y / ky, w / kx, h / ky], np.float64)


def camera_background(checkpoint: dict) -> np.ndarray | None:
    """The median background saved with fitted weights (``(H, W)`` uint8 grey levels) from a
    checkpoint read by :func:`attentrack.tracker.sqair.model.read_checkpoint`, or None when it carries
    none (e.g. Moving MNIST weights or weights fitted before backgrounds were saved)."""
    grey = checkpoint.get("background")
    return None if grey is None else grey.numpy()


def background_extra(canvas: ForegroundCanvas) -> dict:
    """What :func:`attentrack.tracker.sqair.model.save_weights` stores of ``canvas``'s median background."""
    grey = canvas.background_image
    return {} if grey is None else {"background": torch.from_numpy(np.clip(np.rint(grey), 0, 255).astype(np.uint8))}


def read_frames(source_spec, max_frames: int | None = None) -> list[np.ndarray]:
    """All frames of a video file or folder (``(H, W, 3)`` BGR uint8), in memory: for short
    clips (tests, benchmarks); fitting streams with :func:`fit_canvases`.

    Raises:
        InputError: an unreadable source, a live stream, or a video with no frames.
    """
    frames = []
    for frame in _recorded_frames(source_spec):
        frames.append(frame)
        if max_frames and len(frames) >= max_frames:
            break
    if not frames:
        raise InputError(f"{source_spec}: the video has no frames")
    return frames


def _recorded_frames(source_spec):
    """The frames of a recorded video, one at a time (a live stream is refused)."""
    from attentrack.tracker.sources import open_source

    src = open_source(source_spec)
    if src.live:
        raise InputError("fitting SQAIR needs a recorded video, not a live stream")
    for _, frame in src:
        yield frame


def _background_step(n_frames: int) -> int:
    """Every how many frames of ``n_frames`` one is sampled for the median background."""
    return max(1, n_frames // BACKGROUND_SAMPLES)


def _warn_if_moving(canvases: np.ndarray, camera: CameraMotionCheck) -> None:
    """One warning when the canvases are mostly foreground or ``camera`` saw the background move."""
    share = float(canvases[5:].mean(dtype=np.float64)) if len(canvases) > 5 else 0.0
    if camera.finish():
        warnings.warn(camera.message(STATIC_CAMERA_USER), stacklevel=3)
    elif share > MOVING_CAMERA_FOREGROUND:
        warnings.warn(f"{100 * share:.0f}% of the image is foreground: the camera seems to move; "
                      f"{STATIC_CAMERA_USER} assumes a static camera", stacklevel=3)


def video_canvases(frames: list[np.ndarray], canvas: ForegroundCanvas) -> np.ndarray:
    """``(T, height, width)`` canvases of ``frames``; warns when the camera seems to move."""
    if canvas.background == "median":
        canvas.set_background(frames[::_background_step(len(frames))])
    camera = CameraMotionCheck()
    camera.feed(frames)
    out = np.stack([canvas(f) for f in frames])
    _warn_if_moving(out, camera)
    return out


def fit_canvases(source_spec, canvas: ForegroundCanvas, max_frames: int = 0) -> tuple[np.ndarray, int]:
    """The canvases of a recorded video for fitting, in bounded memory.

    Streams the video three times: to count its frames, to estimate ``canvas``'s median
    background from :data:`BACKGROUND_SAMPLES` evenly spaced frames (the same frames
    :func:`video_canvases` uses), and to make the canvases, kept as float16 (a 80x60 canvas is
    9.6 kB a frame). Warns when the camera seems to move.

    Args:
        source_spec: a video file or image folder.
        canvas: a ``median`` :class:`ForegroundCanvas` (its background is set here).
        max_frames: use only the first this many frames (0: all).

    Returns:
        ``(canvases, frames in the video)``: ``(T, height, width)`` float16 in ``[0, 1]``.
    """
    if canvas.background != "median":
        raise InputError("fit_canvases needs a median ForegroundCanvas")
    total = sum(1 for _ in _recorded_frames(source_spec))
    if total == 0:
        raise InputError(f"{source_spec}: the video has no frames")
    used = min(total, max_frames) if max_frames else total
    step = _background_step(used)
    canvas.set_background([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
                           for i, f in zip(range(used), _recorded_frames(source_spec)) if i % step == 0])
    out = np.empty((used, canvas.height, canvas.width), np.float16)
    camera = CameraMotionCheck()
    n = 0
    for frame in _recorded_frames(source_spec):
        if n == used:
            break
        out[n] = canvas(frame)
        camera.update(frame)  # looks only until it has decided
        n += 1
    out = out[:n]  # a file that delivered fewer frames the third time
    _warn_if_moving(out, camera)
    return out, total


def fit_cctv(canvases: list[np.ndarray], out: str | Path, config: SQAIRConfig, steps: int = 600,
             resume: bool = True, max_minutes: float = 0.0, seed: int = 0, progress: bool = True,
             lr: float = 5e-4, batch: int = 8, particles: int = 3, pretrain_steps: int = 1500,
             discovery_warmup: int | None = None) -> SQAIR:
    """Fit SQAIR unsupervised on foreground canvases of one camera.

    A fresh fit first pre-trains the glimpse coder on the canvases' own foreground blobs
    (:func:`foreground_blobs`; :func:`attentrack.tracker.sqair.pretrain.pretrain_glimpses`), so that the
    decoder can render a whole person before any sequence is seen, and discovery runs only on
    each sub-sequence's first frame for the first ``discovery_warmup`` steps, so that
    propagation learns to follow.

    Args:
        canvases: ``(T_i, H, W)`` canvas videos (each at least 2 frames).
        out: folder for ``checkpoint.pt`` (resumed from when present) and ``sqair.pt``.
        config: model settings (its canvas must match the canvases).
        steps: total optimiser steps.
        resume: continue from ``out/checkpoint.pt`` when it exists.
        max_minutes: stop early (and save) after this long; 0 = no limit.
        seed: random seed (initialisation, pre-training, training); with a step budget
            (``max_minutes`` 0) a fit is repeatable on one machine and thread count.
        progress: progress bar.
        lr: Adam learning rate.
        batch: sub-sequences per step.
        particles: ``K`` of the IWAE bound.
        pretrain_steps: glimpse pre-training steps (0: none; also none without blobs).
        discovery_warmup: steps with discovery on the first frame only (default: a third of
            ``steps``).

    Returns:
        the fitted model (in eval mode).
    """
    from attentrack.tracker.sqair.pretrain import GlimpsePretrainOptions, pretrain_glimpses
    from attentrack.tracker.sqair.train import TrainOptions, train

    videos = [np.asarray(c) for c in canvases if len(c) >= 2]  # float16 or float32; drawn as float32
    if not videos:
        raise InputError("fitting needs a video of at least 2 frames")
    if videos[0].shape[1:] != (config.height, config.width):
        raise InputError(f"canvases are {videos[0].shape[2]}x{videos[0].shape[1]}, the model's canvas is "
                         f"{config.width}x{config.height}")
    shortest = min(len(v) for v in videos)
    max_len = min(8, shortest)

    def draw(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
        out_b = np.empty((n, length, config.height, config.width), np.float32)
        for i in range(n):
            v = videos[rng.integers(len(videos))]
            start = rng.integers(0, len(v) - length + 1)
            out_b[i] = v[start:start + length]
            if rng.random() < 0.5:  # mirror: people walk both ways
                out_b[i] = out_b[i, :, :, ::-1]
        return out_b

    def pretrain(model: SQAIR) -> None:
        crops = np.concatenate([foreground_blobs(blob_frames(v))[1] for v in videos])
        if len(crops):
            pretrain_glimpses(model, crops, GlimpsePretrainOptions(steps=pretrain_steps, seed=seed))

    opts = TrainOptions(out=str(out), steps=steps, batch=batch, particles=particles, lr=lr,
                        min_length=min(3, max_len), max_length=max_len, grow_every=max(1, steps // 8),
                        checkpoint_every=50, log_every=25, seed=seed, resume=resume,
                        max_minutes=max_minutes, progress=progress, config=config.to_dict(),
                        discovery_warmup=steps // 3 if discovery_warmup is None else discovery_warmup)
    torch.manual_seed(seed)  # the initialisation is part of the seeded run
    model = SQAIR(config)
    train(opts, draw, model, fresh_start=pretrain if pretrain_steps else None)
    model.eval()
    return model


@dataclass
class CanvasTrack:
    """One object of the current frame, in canvas terms."""

    track_id: int
    box: np.ndarray  # (4,) x, y, w, h in canvas pixels
    score: float


@dataclass
class CanvasTracker:
    """Runs SQAIR online on canvases: with posterior means (``particles=1``, deterministic) or
    with ``particles`` samples followed side by side, reporting at each frame the one whose
    importance weight, summed over the frames so far, is highest (online best-of-K).

    Attributes:
        model: the model.
        particles: ``K``, posterior samples followed (1: posterior means, no sampling).
        min_pixels: an object must render at least this many canvas pixels above 0.3 to be
            reported (discards faint, empty objects).
        min_mass: and its rendered intensity must add up to at least this share of the area
            of the prior's window (an object's expected size): discards objects that explain
            specks of foreground noise or a sliver of a person. The object is still tracked.
        max_size_std: and its box must be no wider than the prior's window this many prior
            standard deviations above its mean width (0: no limit): a wider box holds a group
            of objects explained as one (people walking side by side), not one object. Only
            the width is limited: people near the camera are much taller than the prior's
            mean, and groups stand side by side. The object is still tracked.
        min_support: an object whose window's mean canvas intensity is below this is
            forgotten (its slot freed).
        min_iou: when the reported particle changes, its objects take the identities of the
            objects reported in the previous frame whose boxes overlap them by at least this IoU.
        seed: seed of the tracker's own random stream (``particles > 1``): the same seed and
            canvases give the same reports; torch's global generator is left as it was.
    """

    model: SQAIR
    particles: int = 1
    min_pixels: int = 2
    min_mass: float = 0.0
    max_size_std: float = 0.0
    min_support: float = 0.02
    min_iou: float = 0.3
    seed: int = 0
    state: ObjectState | None = None
    ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # (K, N) per particle
    log_weights: torch.Tensor | None = None  # (K,) summed over the frames, minus their maximum
    next_id: int = 1
    _shown: int = field(default=-1, init=False)  # the particle reported last (-1: none yet)
    _last: list = field(default_factory=list, init=False)  # the CanvasTracks reported last
    _rng_state: torch.Tensor | None = field(default=None, init=False)  # the private random stream (None: unseeded)

    def __post_init__(self) -> None:
        if int(self.particles) < 1:
            raise InputError(f"particles must be at least 1, got {self.particles}")

    def reset(self) -> None:
        self.state, self.ids, self.log_weights, self.next_id = None, np.zeros((0, 0), np.int64), None, 1
        self._shown, self._last, self._rng_state = -1, [], None

    @torch.no_grad()
    def step(self, canvas: np.ndarray) -> list[CanvasTrack]:
        """Advance to one ``(H, W)`` canvas; returns the present objects (score: rendered
        intensity as a share of the prior window's area, at most 1)."""
        m, k = self.model, int(self.particles)
        if self.state is None:
            self.state = m.initial_state(k)
            self.ids = np.zeros((k, m.config.max_objects), np.int64)
            self.log_weights = torch.zeros(k)
        x = torch.from_numpy(np.ascontiguousarray(canvas, dtype=np.float32))[None].expand(k, -1, -1)
        if k == 1:
            with m.posterior_means():
                r = m.step(x, self.state)
        else:
            with torch.random.fork_rng(devices=[]):  # sample from the private stream
                if self._rng_state is None:
                    torch.manual_seed(self.seed)
                else:
                    torch.set_rng_state(self._rng_state)
                r = m.step(x, self.state)
                self._rng_state = torch.get_rng_state()
            self.log_weights = self.log_weights + r.log_lik + r.scores.log_p - r.scores.log_q
            self.log_weights = self.log_weights - self.log_weights.max()
        # an object whose window holds (almost) no foreground explains nothing: forget it, so
        # that its slot is free for discovery (an empty first frame, e.g. before an online
        # background model has formed, would otherwise fill every slot with empty objects)
        support = m.read(x, r.state.where).mean(-1)
        self.state = r.state._replace(pres=r.state.pres * (support >= self.min_support).to(x.dtype))
        pres = self.state.pres.numpy() > 0.5
        found = r.discovered.numpy() > 0.5
        for p in range(k):  # identities per particle
            for i in range(pres.shape[1]):
                if found[p, i] or (pres[p, i] and self.ids[p, i] == 0):
                    self.ids[p, i], self.next_id = self.next_id, self.next_id + 1
                elif not pres[p, i]:
                    self.ids[p, i] = 0
        best = int(self.log_weights.argmax()) if k > 1 else 0
        objects = r.objects[best].numpy()
        boxes = object_boxes_from_images(r.objects[best], r.state.where[best]).numpy()
        if best != self._shown and self._shown >= 0:
            self._inherit_identities(best, pres[best], boxes)
        self._shown = best
        tracks = []
        for i in range(pres.shape[1]):
            score = self.report_score(objects[i], boxes[i]) if pres[best, i] else None
            if score is not None:
                tracks.append(CanvasTrack(int(self.ids[best, i]), boxes[i], score))
        self._last = tracks
        return tracks

    def report_score(self, rendered: np.ndarray, box: np.ndarray) -> float | None:
        """Whether a present object is reported, and with what score.

        Args:
            rendered: ``(H, W)`` the object rendered alone on the canvas.
            box: its ``x, y, w, h`` box in canvas pixels.

        Returns:
            its rendered intensity as a share of the prior window's area (at most 1), or None
            when it is too faint (``min_pixels``, ``min_mass``) or wider than a single object
            (``max_size_std``).
        """
        win_w, win_h = self.model.prior_window_px()
        mass = float(rendered.sum()) / max(1, win_w * win_h)
        if (rendered > 0.3).sum() < self.min_pixels or mass < self.min_mass:
            return None
        if self.max_size_std > 0 and box[2] > self.model.prior_window_px(self.max_size_std)[0]:
            return None
        return min(1.0, mass)

    def _inherit_identities(self, best: int, present: np.ndarray, boxes: np.ndarray) -> None:
        """The newly reported particle's objects take the identities of the last reported
        objects they overlap (so a change of particle is not a change of every identity)."""
        from scipy.optimize import linear_sum_assignment

        from attentrack.tracker.boxes import iou_matrix

        slots = np.flatnonzero(present)
        if not len(slots) or not self._last:
            return
        iou = iou_matrix(boxes[slots].astype(np.float64), np.stack([t.box for t in self._last]).astype(np.float64))
        rows, cols = linear_sum_assignment(-iou)
        row = self.ids[best]
        for r_i, c_i in zip(rows, cols):
            if iou[r_i, c_i] >= self.min_iou:
                old_id, target = self._last[c_i].track_id, slots[r_i]
                row[row == old_id] = row[target]  # a slot already holding it swaps: no duplicates
                row[target] = old_id
