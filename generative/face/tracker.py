"""``face-attention``: follow a face with the attentional face model: a motion prior, the
ConvNet's proposal in a search region, HMC under the generative model, a calibrated face score
and re-detection.

Per frame and face:

1. **Motion prior.** The transform is predicted with a constant velocity of its centre (the
   velocity smoothed over the frames that scored as a face); the search region is bounded
   around the prediction (``context`` face sides).
2. **ConvNet proposal.** The proposer reads a region ``REGION_SIDES`` face sides wide around
   the prediction, resized so the face has the size it was trained on, and proposes a transform.
3. **HMC.** Chains start at the prediction and at the proposal (half each) and run HMC over
   ``u`` (with ``z`` integrated out) under the generative model of this person (the latents'
   prior centred on the face's own latents, ``identity_sd``, and its mean moved towards the
   face's own first glimpse, ``template``) plus a Gaussian motion prior
   around the prediction; the highest posterior state any chain visited is kept, so HMC is
   used only where it improves the model's score over both starting points. The chains start
   at the step size they adapted to on the face's previous frame (``warm_step``).
4. **Face score.** The calibrated score of :meth:`Localisation.score` and its threshold, both learnt by
   ``attentrack eval face-score`` (stored in the weights' metadata as ``score_calibration``):
   a logistic regression of on-face against off-face windows on the face and background
   models' log-likelihoods, and the threshold that best separates them.
5. **Re-detection** (off by default, ``redetect_after=0``). After ``redetect_after`` frames in
   a row below the threshold, the ConvNet
   proposes a face in every tile of the whole frame (tiles ``REGION_SIDES`` face sides wide at
   the face's last size), the proposals with the best face scores are refined by HMC, and the
   track moves there when the result scores as a face and this person's face model explains it
   better than the tracked window (a higher log-joint; the best of a whole frame's tiles often
   scores as a face by chance, so the score alone would jump to clutter).

The track's box keeps the shape of the first box: the face square's side is the first box's
smaller side (cheek to cheek), and the box is scaled with it. Its ``inset`` is the model's
canonical reconstruction (the posterior mean of ``z`` decoded), drawn in the annotated video.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from attentrack.generative.face.localise import (
    HMCOptions,
    Localisation,
    face_score,
    prepare_images,
    propose_in_regions,
    refine,
    window_terms,
)
from attentrack.generative.face.model import load_face_model
from attentrack.generative.face.transform import box_to_u, normalise, read_glimpse, u_to_box
from attentrack.tracker.base import SingleObjectTracker, Track
from attentrack.tracker.errors import InputError


@dataclass
class FaceState:
    """One followed face.

    Attributes:
        u: ``(4,)`` its transform ``cx, cy, s, theta`` (frame pixels, radians).
        velocity: ``(2,)`` centre velocity in pixels per frame.
        shape: ``(2,)`` the first box's width and height in face sides.
        identity: ``(Z,)`` the face's latents (posterior mean in the first frame, then a running
            average over the frames that scored as a face): the mean of this person's face model.
        residual: ``(S, S)`` the part of this person's normalised canonical face that the latents
            do not reproduce (glimpse minus the decoded ``identity``; first frame, then the same
            running average), added to the person's face model with weight ``template``.
        last: the last localisation.
        low: consecutive frames scored below the threshold.
        first_side: the face side in the first frame, in pixels (0: unknown).
    """

    u: np.ndarray
    velocity: np.ndarray
    shape: np.ndarray
    identity: np.ndarray
    residual: np.ndarray | None = None
    last: Localisation | None = None
    low: int = 0
    first_side: float = 0.0


def grey(frame: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR (or ``(H, W)``) -> ``(H, W)`` float32 in [0, 1]."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise InputError("frames must be (H, W, 3) uint8 BGR images")
    g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return g.astype(np.float32) / 255.0


class FaceAttentionTracker(SingleObjectTracker):
    """Attentional face model (Tang et al. 2014) as a tracker: ConvNet proposal and HMC over the
    similarity transform under a motion prior, calibrated face score, re-detection.

    The canonical reconstruction is shown in the annotated video; the score is the model's
    face-versus-background evidence for the window.
    """

    tracker_id = "face-attention"
    summary = ("attentional face model (Tang et al. 2014): ConvNet proposal + HMC over a similarity transform, "
               "motion prior, optional re-detection")
    model_card = "generative/face/weights/FACE_MODEL_CARD.md"
    signed_options = ("redetect_below",)

    def __init__(self, weights: str = "", chains: int = 4, steps: int = 12, leapfrog: int = 4,
                 context: float = 2.0, work_side: float = 40.0, max_zoom: float = 0.1, min_side: float = 12.0,
                 max_scale: float = 3.0,
                 motion_sd: float = 0.1, marginal: bool = True, velocity: float = 0.5, proposal: bool = True,
                 redetect_below: float = -1.0, redetect_after: int = 0, max_tiles: int = 200,
                 identity_sd: float = 0.5, identity_rate: float = 0.05, template: float = 0.5,
                 warm_step: bool = True, seed: int = 0, threads: int = 1) -> None:
        """Load the face model.

        Args:
            weights: face weights from ``attentrack train face`` (empty: the shipped ones).
            chains: HMC chains per face per frame (half start at the prediction, half at the proposal).
            steps: HMC iterations per chain per frame.
            leapfrog: leapfrog steps per iteration.
            context: side of the region HMC reads, in face sides.
            work_side: the region is shrunk so the face is about this many pixels.
            max_zoom: largest relative change of the face side from one frame to the next
                (the HMC prior's scale range; without it the window can shrink onto a
                face-like detail and keep shrinking).
            min_side: smallest face side in frame pixels.
            max_scale: the face side stays within ``max_scale`` times (and one ``max_scale``-th
                of) its first side (0: no bound). ``max_zoom`` bounds one frame's change, not a
                drift: on ``Megamind.avi`` the window shrank from 115 to 15 pixels over 150
                frames, down to a detail the face model explains better than the face.
            motion_sd: standard deviation of the Gaussian motion prior around the predicted
                transform: centre in face sides (log-scale and rotation get half of it).
            marginal: HMC over the transform with the face latents integrated out in closed
                form (``False``: over transform and latents jointly; slower to mix).
            velocity: weight of the newest displacement in the smoothed centre velocity of the
                constant-velocity prediction (0: no motion model, the previous transform is the prediction).
            proposal: start half the chains at the ConvNet's proposal in the search region
                (``False``: all chains at the prediction, as HMC alone).
            redetect_below: face score under which a frame counts as low; negative: the threshold
                learnt by ``attentrack eval face-score`` and stored with the weights (0.5, equal
                evidence under the likelihood-ratio score, for weights without a calibration).
            redetect_after: after this many low frames in a row, re-detect with the ConvNet over the
                whole frame (0, the default: never; on the generated face sequences re-detection
                jumped to face-like clutter more often than it found a lost face, see the model card).
            max_tiles: most ConvNet tiles of one re-detection (the stride grows to keep under it).
            identity_sd: HMC searches under the face model of this person: the face latents' prior
                is ``N(identity, identity_sd^2 I)`` around the face's latents instead of ``N(0, I)``
                (0: the generic face model). Needs ``marginal``.
            identity_rate: weight of each frame that scores as a face in the running average of the
                face's latents and residual (0: the first frame's throughout).
            template: weight in [0, 1] of the face's residual image (what its latents do not
                reproduce) in this person's face model: 0, the model's decoded face around the
                person's latents (the tracker before 2026-12-07); 1, the person's own normalised
                face as the mean, varying along the face model's directions (needs
                ``identity_sd`` > 0). 0.5 follows generated faces better than 0 (mean IoU over
                two seeds: ``still`` scenes 0.778 against 0.704, ``moving`` 0.643 against 0.557;
                see the model card for how noisy such means are).
            warm_step: each frame's HMC starts from the step size its chains adapted to on the
                face's previous frame (False: from the fixed initial step every frame, most of
                whose first iterations are then rejected while the step shrinks). On generated
                faces (mean IoU over two seeds): ``still`` 0.856 against 0.778, ``moving`` 0.698
                against 0.643 (model card).
            seed: seed of the chains.
            threads: torch CPU threads (process-wide; 0 leaves the setting alone).
        """
        super().__init__()
        if chains < 1 or steps < 1 or leapfrog < 1:
            raise InputError("chains, steps and leapfrog must be at least 1")
        if context < 1.2 or work_side < 12:
            raise InputError("context must be at least 1.2 and work_side at least 12")
        if not 0 < max_zoom < 1 or min_side < 4:
            raise InputError("max_zoom must be in (0, 1) and min_side at least 4")
        if max_scale and max_scale < 1:
            raise InputError("max_scale must be at least 1 (or 0: no bound)")
        if motion_sd <= 0:
            raise InputError("motion_sd must be positive")
        if not 0 <= velocity <= 1:
            raise InputError("velocity must be in [0, 1]")
        if redetect_after < 0 or max_tiles < 1:
            raise InputError("redetect_after must be at least 0 and max_tiles at least 1")
        if identity_sd < 0 or not 0 <= identity_rate <= 1 or (identity_sd > 0 and not marginal):
            raise InputError("identity_sd must be >= 0 (and needs marginal), identity_rate in [0, 1]")
        if not 0 <= template <= 1 or (template and not identity_sd):
            raise InputError("template must be in [0, 1] and needs identity_sd > 0")
        if threads and threads > 0:
            torch.set_num_threads(int(threads))
        self.model = load_face_model(weights)
        self.options = HMCOptions(chains=chains, steps=steps, leapfrog=leapfrog, adapt=min(5, steps // 2),
                                  jitter=0.05, marginal=bool(marginal))
        self.context, self.work_side = float(context), float(work_side)
        self.max_zoom, self.min_side, self.max_scale = float(max_zoom), float(min_side), float(max_scale)
        self.motion_sd = float(motion_sd)
        self.velocity, self.proposal = float(velocity), bool(proposal)
        self.calibration = self.model.meta.get("score_calibration")
        if redetect_below < 0:
            redetect_below = float(self.calibration["threshold"]) if self.calibration else 0.5
        self.redetect_below, self.redetect_after = float(redetect_below), int(redetect_after)
        self.max_tiles = int(max_tiles)
        self.identity_sd, self.identity_rate = float(identity_sd), float(identity_rate)
        self.template = float(template)
        self.warm_step = bool(warm_step)
        self.seed = int(seed)
        self._frame_count = 0

    def init_one(self, frame, box):
        """The state of a face in ``box`` (``x, y, w, h`` pixels): a face square as wide as the box's
        smaller side, centred in it, no velocity."""
        img = grey(frame)
        box = np.asarray(box, np.float64)
        if box[2] <= 0 or box[3] <= 0:
            raise InputError("face box must have a positive width and height")
        u = box_to_u(box)[0]
        u[2] = min(box[2], box[3])
        glimpse = self._glimpse(img, u)
        with torch.no_grad():
            identity = self.model.vae.posterior_mean(glimpse)[0]
        residual = self._residual(glimpse, identity[None])
        # a flat window (a black fade-in, a blank wall) has no appearance to keep: its normalised
        # glimpse's standard deviation (1 for any textured window) scales the residual down
        residual *= min(1.0, float(glimpse.std(unbiased=False)))
        return FaceState(u, np.zeros(2), np.array([box[2], box[3]]) / u[2], identity.double().numpy(), residual,
                         first_side=float(u[2]))

    def _glimpse(self, img: np.ndarray, u: np.ndarray) -> torch.Tensor:
        """``(1, S, S)`` the normalised canonical glimpse of a grey frame at transform ``u`` ``(4,)``."""
        size = self.model.vae.config.size
        prepared = prepare_images(img[None], np.asarray(u[2:3], np.float64), size)
        with torch.no_grad():
            return normalise(read_glimpse(prepared, torch.as_tensor(np.asarray(u)[None], dtype=torch.float32), size))

    def _residual(self, glimpse: torch.Tensor, z: torch.Tensor) -> np.ndarray:
        """``(S, S)`` what the latents ``z`` ``(1, Z)`` do not reproduce of ``glimpse`` ``(1, S, S)``:
        the glimpse minus its decoding."""
        with torch.no_grad():
            return (glimpse - self.model.vae.decode(z))[0].double().numpy()

    def box_of(self, state: FaceState) -> np.ndarray:
        """``(4,)`` ``x, y, w, h``: the first box's shape scaled with the face and centred on it."""
        cx, cy, s = state.u[:3]
        w, h = state.shape * s
        return np.array([cx - w / 2, cy - h / 2, w, h])

    def _search(self, img: np.ndarray, u: np.ndarray, starts: np.ndarray | None = None,
                anchored: bool = True, identity: np.ndarray | None = None,
                first_side: float = 0.0, residual: np.ndarray | None = None,
                step_size: float | None = None) -> tuple[Localisation, np.ndarray]:
        """HMC in a region around ``u`` (frame pixels), chains from ``starts`` ``(C, 4)`` (default:
        jittered around ``u``), the face side within ``max_scale`` of ``first_side`` (pixels; 0: no
        such bound), under the face model of ``identity`` (latents) and ``residual`` ``(S, S)``,
        HMC starting from ``step_size`` (None: the options' initial step); returns the
        localisation with ``u`` in frame pixels."""
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

        def to_local(v):
            v = np.array(v, np.float64).reshape(-1, 4)
            return np.stack([(v[:, 0] - x0) * fx, (v[:, 1] - y0) * fy, v[:, 2] * fx, v[:, 3]], 1)

        local = to_local(u)[0]
        local[2] = s * fx
        low, high = max(self.min_side * fx, (1 - self.max_zoom) * local[2]), (1 + self.max_zoom) * local[2]
        bounds = (first_side / self.max_scale, first_side * self.max_scale) if first_side and self.max_scale else None
        if bounds is not None:
            low = max(low, bounds[0] * fx)
            high = max(low, min(high, bounds[1] * fx))
        side_range = (low, high)
        init = local[None] if starts is None else to_local(starts)[None]
        self._frame_count += 1
        options = self.options if step_size is None else replace(self.options, step_size=float(step_size))
        loc = refine(self.model, crop[None], init, options, side_range,
                     seed=self.seed + self._frame_count, anchor=local[None] if anchored else None,
                     anchor_sd=(self.motion_sd, 0.5 * self.motion_sd), blur_side=np.array([local[2]]),
                     z_prior=self._person_prior(identity, residual))
        out = loc.u[0].copy()
        out[0], out[1], out[2] = out[0] / fx + x0, out[1] / fy + y0, out[2] / fx
        if bounds is not None:  # the HMC prior's walls are soft: hold the bound here
            out[2] = float(np.clip(out[2], *bounds))
        return loc, out

    def _person_prior(self, identity: np.ndarray | None, residual: np.ndarray | None) -> tuple | None:
        """``refine``'s ``z_prior`` for one face: ``(latents (1, Z), sd[, residual (1, S, S)])``, or
        ``None`` for the generic face model."""
        if identity is None or not self.identity_sd:
            return None
        if self.template and residual is not None:
            return identity[None], self.identity_sd, self.template * residual[None]
        return identity[None], self.identity_sd

    def _starts(self, img: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """``(C, 4)`` chain starts: the prediction and (with ``proposal``) the ConvNet's proposal in the
        search region, each chain after the first two jittered around one of them."""
        rng = np.random.default_rng(self.seed + 7919 * self._frame_count)
        bases = [pred]
        if self.proposal:
            conv = propose_in_regions(self.model, img, pred[None, :2], pred[2:3])[0]
            conv[2] = float(np.clip(conv[2], (1 - self.max_zoom) * pred[2], (1 + self.max_zoom) * pred[2]))
            bases.append(conv)
        out = []
        for k in range(self.options.chains):
            b = bases[k % len(bases)].copy()
            if k >= len(bases):
                j = rng.normal(0.0, self.options.jitter, 4)
                b[:2] += j[:2] * b[2]
                b[2] *= np.exp(j[2])
                b[3] += j[3]
            out.append(b)
        return np.array(out)

    def _redetect(self, img: np.ndarray, side: float, identity: np.ndarray | None = None,
                  residual: np.ndarray | None = None) -> tuple[Localisation, np.ndarray] | None:
        """The ConvNet over tiles of the whole frame at face side ``side``; the best proposals by the
        model's ratio refined by HMC. ``None`` when the frame is smaller than a tile."""
        h, w = img.shape
        side = max(side, self.min_side)
        stride = side
        while True:
            xs = np.arange(side, max(side, w - side) + 1e-6, stride)
            ys = np.arange(side, max(side, h - side) + 1e-6, stride)
            if len(xs) * len(ys) <= self.max_tiles:
                break
            stride *= 1.25
        centres = np.array([(x, y) for y in ys for x in xs])
        u = propose_in_regions(self.model, img, centres, np.full(len(centres), side))
        u[:, 2] = np.clip(u[:, 2], (1 - 2 * self.max_zoom) * side, (1 + 2 * self.max_zoom) * side)
        inside = (u[:, 0] > 0) & (u[:, 0] < w) & (u[:, 1] > 0) & (u[:, 1] < h)
        if not inside.any():
            return None
        u = u[inside]
        best = u[np.argsort(-self._window_scores(img, u, side))[: max(1, self.options.chains)]]
        return self._search(img, best[0], starts=best, anchored=False, identity=identity, residual=residual)

    def _window_scores(self, img: np.ndarray, u: np.ndarray, side: float) -> np.ndarray:
        """``(N,)`` face scores of the windows ``u`` ``(N, 4)`` of a grey frame (calibrated when the
        weights hold a calibration)."""
        face, background = window_terms(self.model, img, u, side)
        return face_score(face, background, self.model.vae.config.size ** 2, self.calibration)

    def update_one(self, state: FaceState, frame):
        """Search for the face around its predicted transform, re-detecting over the whole frame after
        a run of low scores; returns its ``x, y, w, h`` box in pixels and its score."""
        img = grey(frame)
        pred = state.u.copy()
        pred[:2] += state.velocity
        warm = float(state.last.step_size[0]) if self.warm_step and state.last is not None else None
        loc, u = self._search(img, pred, starts=self._starts(img, pred), identity=state.identity,
                              first_side=state.first_side, residual=state.residual, step_size=warm)
        score = float(loc.score(calibration=self.calibration)[0])
        state.low = state.low + 1 if score < self.redetect_below else 0
        if self.redetect_after and state.low >= self.redetect_after:
            found = self._redetect(img, state.u[2], state.identity, state.residual)
            if found is not None:
                loc2, u2 = found
                score2 = float(loc2.score(calibration=self.calibration)[0])
                if score2 >= self.redetect_below and loc2.log_joint[0] > loc.log_joint[0]:
                    state.u, state.velocity, state.low = u2, np.zeros(2), 0  # a new start: no displacement
                    loc, u, score = loc2, u2, score2
        if score >= self.redetect_below:
            state.velocity = (1 - self.velocity) * state.velocity + self.velocity * (u[:2] - state.u[:2])
            state.identity = (1 - self.identity_rate) * state.identity + self.identity_rate * loc.z[0]
            if self.template and state.residual is not None and self.identity_rate:
                now = self._residual(self._glimpse(img, u), torch.as_tensor(loc.z[:1], dtype=torch.float32))
                state.residual = (1 - self.identity_rate) * state.residual + self.identity_rate * now
        else:
            state.velocity = 0.5 * state.velocity
        state.u, state.last = u, loc
        return self.box_of(state), score

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
