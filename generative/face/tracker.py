"""``face-attention``: follow a face by HMC under the attentional face model, each frame's
chains started from the previous frame's similarity transform.

Per frame and face: cut a region around the previous transform (``context`` face sides),
shrink it so the face is about ``work_side`` pixels, run HMC over ``(u, z)``
(:func:`attentrack.generative.face.localise.refine`) and keep the best state. The track's box is the
unrotated face square, its score the face score of :meth:`Localisation.score`, and its
``inset`` the model's canonical reconstruction (the decoded ``z``), drawn in the annotated
video. When the score stays below ``redetect_below``, the ConvNet proposes a transform on
the whole frame, HMC refines it, and the track moves there if that explains the image better.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from attentrack.generative.face.localise import HMCOptions, Localisation, propose, refine
from attentrack.generative.face.model import load_face_model
from attentrack.generative.face.transform import box_to_u, u_to_box
from attentrack.tracker.base import SingleObjectTracker, Track
from attentrack.tracker.errors import InputError


@dataclass
class FaceState:
    """One followed face: its transform ``u`` ``(4,)`` (frame pixels, radians), the last
    localisation and the number of consecutive low-score frames."""

    u: np.ndarray
    last: Localisation | None = None
    low: int = 0


def grey(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR (or ``(H, W)``) -> ``(H, W)`` float32 in [0, 1]."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise InputError("frames must be (H, W, 3) uint8 BGR images")
    g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return g.astype(np.float32) / 255.0


class FaceAttentionTracker(SingleObjectTracker):
    """Attentional face model (Tang et al. 2014) as a tracker: HMC over the similarity transform.

    The canonical reconstruction is shown in the annotated video; the score is the model's
    face-versus-background evidence for the window.
    """

    tracker_id = "face-attention"
    summary = ("attentional face model (Tang et al. 2014): HMC over a similarity transform, from the previous "
               "frame")
    model_card = "generative/face/weights/FACE_MODEL_CARD.md"

    def __init__(self, weights: str = "", chains: int = 4, steps: int = 12, leapfrog: int = 4,
                 context: float = 2.0, work_side: float = 40.0, max_zoom: float = 0.1, min_side: float = 24.0,
                 motion_sd: float = 0.1, marginal: bool = True,
                 redetect_below: float = 0.55,
                 redetect_after: int = 3, seed: int = 0, threads: int = 1) -> None:
        """Load the face model.

        Args:
            weights: face weights from ``attentrack train face`` (empty: the shipped ones).
            chains: HMC chains per face per frame.
            steps: HMC iterations per chain per frame.
            leapfrog: leapfrog steps per iteration.
            context: side of the searched region, in face sides.
            work_side: the region is shrunk so the face is about this many pixels.
            max_zoom: largest relative change of the face side from one frame to the next
                (the HMC prior's scale range; without it the window can shrink onto a
                face-like detail and keep shrinking).
            min_side: smallest face side in frame pixels.
            marginal: HMC over the transform with the face latents integrated out in closed
                form (``False``: over transform and latents jointly; slower to mix).
            motion_sd: standard deviation of the Gaussian motion prior around the previous
                transform: centre in face sides (log-scale and rotation get half of it).
            redetect_below: face score under which a frame counts as low.
            redetect_after: after this many low frames in a row, try the ConvNet on the whole frame.
            seed: seed of the chains.
            threads: torch CPU threads (process-wide; 0 leaves the setting alone).
        """
        super().__init__()
        if chains < 1 or steps < 1 or leapfrog < 1:
            raise InputError("chains, steps and leapfrog must be at least 1")
        if context < 1.2 or work_side < 12:
            raise InputError("context must be at least 1.2 and work_side at least 12")
        if threads and threads > 0:
            torch.set_num_threads(int(threads))
        self.model = load_face_model(weights)
        self.options = HMCOptions(chains=chains, steps=steps, leapfrog=leapfrog, adapt=min(5, steps // 2),
                                  jitter=0.05, marginal=bool(marginal))
        if not 0 < max_zoom < 1 or min_side < 4:
            raise InputError("max_zoom must be in (0, 1) and min_side at least 4")
        self.context, self.work_side = float(context), float(work_side)
        self.max_zoom, self.min_side = float(max_zoom), float(min_side)
        if motion_sd <= 0:
            raise InputError("motion_sd must be positive")
        self.motion_sd = float(motion_sd)
        self.redetect_below, self.redetect_after = float(redetect_below), int(redetect_after)
        self.seed = int(seed)
        self._frame_count = 0

    def init_one(self, frame, box):
        """The state of a face in ``box`` (``x, y, w, h`` pixels): its similarity transform ``u``."""
        grey(frame)  # validates the frame
        if box[2] <= 0 or box[3] <= 0:
            raise InputError("face box must have a positive width and height")
        return FaceState(box_to_u(box)[0])

    def _search(self, img: np.ndarray, u: np.ndarray, anchored: bool = True) -> tuple[Localisation, np.ndarray]:
        """HMC in a region around ``u``; returns the localisation with ``u`` in frame pixels."""
        h, w = img.shape
        cx, cy, s = u[0], u[1], max(u[2], self.min_side)
        half = 0.5 * self.context * s
        x0, y0 = int(max(0, np.floor(cx - half))), int(max(0, np.floor(cy - half)))
        x1, y1 = int(min(w, np.ceil(cx + half))), int(min(h, np.ceil(cy + half)))
        if x1 - x0 < 4 or y1 - y0 < 4:  # the face left the frame: search it all
            x0, y0, x1, y1 = 0, 0, w, h
        f = min(1.0, self.work_side / s)
        crop = img[y0:y1, x0:x1]
        if f < 1.0:
            crop = cv2.resize(crop, (max(4, round((x1 - x0) * f)), max(4, round((y1 - y0) * f))),
                              interpolation=cv2.INTER_AREA)
        fx, fy = crop.shape[1] / (x1 - x0), crop.shape[0] / (y1 - y0)
        local = np.array([(cx - x0) * fx, (cy - y0) * fy, s * fx, u[3]])
        side_range = (max(self.min_side * fx, (1 - self.max_zoom) * local[2]), (1 + self.max_zoom) * local[2])
        self._frame_count += 1
        loc = refine(self.model, crop[None], local[None], self.options, side_range,
                     seed=self.seed + self._frame_count, anchor=local[None] if anchored else None,
                     anchor_sd=(self.motion_sd, 0.5 * self.motion_sd))
        out = loc.u[0].copy()
        out[0], out[1], out[2] = out[0] / fx + x0, out[1] / fy + y0, out[2] / fx
        return loc, out

    def _redetect(self, img: np.ndarray) -> tuple[Localisation, np.ndarray]:
        h, w = img.shape
        f = min(1.0, 160.0 / w)
        small = cv2.resize(img, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
        u = propose(self.model, small[None])[0]
        u[:3] /= f
        return self._search(img, u, anchored=False)

    def update_one(self, state: FaceState, frame):
        """Search for the face near its last transform, re-detecting over the whole frame after
        a run of low scores; returns its ``x, y, w, h`` box in pixels and its score."""
        img = grey(frame)
        loc, u = self._search(img, state.u)
        score = float(loc.score()[0])
        state.low = state.low + 1 if score < self.redetect_below else 0
        if state.low >= self.redetect_after:
            loc2, u2 = self._redetect(img)
            if loc2.log_joint[0] > loc.log_joint[0]:
                loc, u, score = loc2, u2, float(loc2.score()[0])
            state.low = 0 if score >= self.redetect_below else state.low
        state.u, state.last = u, loc
        return u_to_box(u)[0], score

    def reconstruction(self, state: FaceState) -> np.ndarray | None:
        """The canonical reconstruction of the last frame as a ``(S, S)`` uint8 image."""
        if state.last is None:
            return None
        with torch.no_grad():
            mean = self.model.vae.decode(torch.as_tensor(state.last.z[:1], dtype=torch.float32))[0].numpy()
        lo, hi = np.percentile(mean, 1), np.percentile(mean, 99)
        return (np.clip((mean - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)

    def update(self, frame):
        """Advance every face to ``frame``; each track also carries its glimpse box and the reconstructed face."""
        tracks = []
        for tid, state in self._states.items():
            box, score = self.update_one(state, frame)
            tracks.append(Track(tid, np.asarray(box, dtype=np.float64), float(score),
                                glimpse=u_to_box(state.u)[0], inset=self.reconstruction(state)))
        return tracks
