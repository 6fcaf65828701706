"""The multi-object runner: detections in, identities out, for any model.

:class:`MultiObjectTracker` is itself a :class:`~attentrack.tracker.base.Tracker`. Each frame
it takes detections (given to :meth:`MultiObjectTracker.update`, or from its proposer: MOG2
blobs, SQAIR's discoveries, saliency peaks, a MOTChallenge ``det.txt``) and matches them to
its tracks on a combined cost (:mod:`attentrack.tracker.association`): where each track is
expected (the model's own prediction when the model is sure of it, a constant-velocity Kalman
filter otherwise, :mod:`attentrack.tracker.motion`), and what it looks like
(:mod:`attentrack.tracker.appearance`).

Life cycle of a track: *tentative* from its first detection, *confirmed* (and given an id)
after ``min_hits`` matched frames in a row, *lost* when it goes unmatched (remembered for
``max_lost`` frames and re-found by appearance and motion), *ended* when it stays lost, leaves
the frame, or (without detections) when the model's score stays below ``min_score``.

Every distance is relative to the objects: gates are multiples of a track's height and noise
is a fraction of it, so the same settings serve people of 20 and of 200 pixels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from attentrack.tracker.appearance import colour_embeddings, cosine_distance
from attentrack.tracker.association import CostWeights, assign, association_cost
from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.boxes import as_boxes, clip_to_frame, inside_matrix, iou_matrix
from attentrack.tracker.errors import InputError
from attentrack.tracker.motion import BoxKalman

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"
#: a group's members are each at least this share of its detection's height (``RunnerSettings.groups``)
GROUP_MIN_HEIGHT = 0.5


@dataclass
class RunnerSettings:
    """What the runner decides with; every distance is relative to the objects' sizes.

    Attributes:
        min_hits: matched frames in a row before a new track is confirmed and reported.
        max_lost: frames a confirmed track is remembered while unmatched.
        gate: farthest centre jump from one frame to the next, in track heights; a lost
            track's gate grows with the square root of the frames it has been lost.
        max_gate: the largest gate, in track heights.
        max_cost: pairs costing more than this are not matched (costs: :mod:`attentrack.tracker.association`;
            each term is in about ``[0, 1]``). On degraded ground truth (``eval association``,
            five seeds) 1.1 kept identities better than 1.5 on every sequence, a crowded unseen
            camera (MOT15 ADL-Rundle-6) included: wrong matches cost more than late ones.
        max_appearance: a lost track is re-found only by a detection this close in appearance
            (cosine distance of colour histograms; 1: no such gate, appearance only weighs in
            the cost. On TUD's degraded ground truth a gate of 0.35 or 0.5 cost IDF1: the same
            person's histogram changes more than that under occlusion).
        overlap_weight: weight of ``1 - IoU`` in the cost.
        motion_weight: weight of the centre distance in the cost.
        appearance_weight: weight of the appearance distance in the cost.
        motion: predict with a Kalman filter (off: a track is expected where it was last seen).
        trust_model: the model's box is used as the prediction when its score is at least this
            (HART's scores are not calibrated probabilities: at 0.5 its coasted boxes cost
            more false positives than they gained on the sequences of ``eval pipelines``).
        coast: frames a confirmed track is still reported by the model's prediction while no
            detection matches it (needs a model whose score is at least ``trust_model``).
        motion_coast: frames a confirmed track (``min_hits`` matches in a row before the miss)
            that the given detections (a detector's ``det.txt``, or boxes passed to
            :meth:`MultiObjectTracker.update`) miss is still reported, at the motion model's
            prediction, when the model's own box is not used (``coast``). A detector's misses are
            mostly flickers of an object still there. Measured on 2026-12-07 against 0: degraded
            ground truth (``eval association``, five seeds) IDF1 0.805 / 0.803 / 0.825 -> 0.866 /
            0.861 / 0.883 on TUD at 1x / 2x / 3x and 0.646 -> 0.700 on MOT15 ADL-Rundle-6, MOTA
            +0.11 everywhere (3 frames instead of 2 added nothing on two seeds); ADL-Rundle-6's
            public DPM detections (``eval pipelines PATH -m hart --detections auto``) IDF1
            0.368 -> 0.374 and ID switches 98 -> 87 (score threshold 30: 0.386 -> 0.394, 70 -> 61).
        motion_coast_proposals: the same for detections the runner asks its proposer for
            (background subtraction, a model that finds its own objects). Off: with MOG2
            proposals the tracks that end are often parts of people and reflections, and 2 frames
            cost MOTA 0.01-0.03 on TUD at 1x/2x/3x for IDF1 within 0.007 (``eval pipelines``,
            ``hart`` and ``blobs``, 2026-12-07).
        min_score: without detections, a model track whose score stays below this for
            ``max_low_score`` frames ends.
        max_low_score: see ``min_score``.
        min_inside: a track whose box has less than this fraction inside the frame has left.
        new_overlap: a detection overlapping a live track by this IoU starts no new track.
        score_threshold: detections scoring less are ignored.
        start_score: detections scoring less start no track and are matched only after the
            others, to the tracks seen in the last frame that no higher-scoring detection took (as
            ByteTrack does): a detector's weak boxes are mostly false where nothing is followed
            and mostly right next to a followed object (occluded, blurred). Detectors' scores have
            no common scale, so the default (-inf) matches every detection at once. MOT15
            ADL-Rundle-6's public DPM detections (``eval pipelines PATH -m hart --detections auto``, 2026-12-07):
            all rows with ``start_score=30`` IDF1 0.424, MOTA 0.367, 55 ID switches, against 0.394,
            0.349, 61 with the rows below 30 dropped (``--det-threshold 30``) and 0.374, 0.124, 87
            with every row matched at once.
        appearance_momentum: how much of a track's appearance is kept at each match.
        keep_init: tracks started with given boxes (``--init``) never end (the old behaviour).
        groups: follow objects that merge into one detection (people walking together are one
            foreground blob): when the predicted boxes of two or more live confirmed tracks
            (``min_hits`` matches in a row) each lie at least ``group_inside`` inside one
            detection (and neither mostly inside the other, which would be a part or a
            duplicate), side by side (each at least half as tall as the detection: tracks on
            parts of one object stack up instead), and the detection is at least ``group_size``
            times as wide as the widest of them (one object's detection is not), every one of them
            stays live at its own predicted box (moving on, not growing or shrinking), for at
            most ``max_lost`` frames, instead of one taking the group's box and the others being lost.
            Measured on 2026-12-07 (``eval pipelines``, TUD 1x/2x/3x and ADL-Rundle-6): MOTA rose
            on every view; IDF1 rose for ``blobs`` everywhere and fell for ``hart`` at 1x and on
            ADL-Rundle-6, where identity (AssA) suffered (docs/benchmarks.md).
        group_inside: see ``groups``.
        group_size: see ``groups``.
        report: the box a matched track reports and is matched from next: ``filtered``, the
            Kalman filter's correction of the detection (as SORT reports; a part of a person
            detected for a frame moves the box only partly), or ``detection``, the detection
            as it is. Measured on 2026-12-07 (``eval pipelines``, TUD 1x/2x/3x and
            ADL-Rundle-6; ``eval association``, five seeds): ``filtered`` raised MOTA and HOTA
            on every view and cut ID switches, IDF1 within 0.01 either way.
        live_prime_seconds: a camera or stream is watched this long before tracking starts, to
            learn its background (:func:`prime_detector`); 0: not at all (before 2026-12-08).
    """

    min_hits: int = 3
    max_lost: int = 30
    gate: float = 1.0
    max_gate: float = 3.0
    max_cost: float = 1.1
    max_appearance: float = 1.0
    overlap_weight: float = 1.0
    motion_weight: float = 1.0
    appearance_weight: float = 1.0
    motion: bool = True
    trust_model: float = 0.8
    coast: int = 5
    motion_coast: int = 2
    motion_coast_proposals: int = 0
    min_score: float = 0.2
    max_low_score: int = 5
    min_inside: float = 0.3
    new_overlap: float = 0.5
    score_threshold: float = 0.0
    start_score: float = float("-inf")
    appearance_momentum: float = 0.9
    keep_init: bool = False
    report: str = "filtered"
    groups: bool = True
    group_inside: float = 0.6
    group_size: float = 1.5
    live_prime_seconds: float = 4.0

    def __post_init__(self) -> None:
        if not float(self.live_prime_seconds) >= 0:
            raise InputError(f"runner setting live_prime_seconds must be >= 0, got {self.live_prime_seconds}")
        if self.report not in ("filtered", "detection"):
            raise InputError(f"runner setting report must be 'filtered' or 'detection', got {self.report!r}")
        for name in ("min_hits", "max_lost", "coast", "motion_coast", "motion_coast_proposals", "max_low_score"):
            if int(getattr(self, name)) < 0:
                raise InputError(f"runner setting {name} must be >= 0, got {getattr(self, name)}")
        for name in ("gate", "max_gate", "max_cost", "group_size"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"runner setting {name} must be > 0, got {getattr(self, name)}")
        for name in ("max_appearance", "min_inside", "new_overlap", "appearance_momentum", "trust_model",
                     "group_inside"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise InputError(f"runner setting {name} must be in [0, 1], got {value}")

    @classmethod
    def from_options(cls, options: dict, base: dict | None = None) -> "RunnerSettings":
        """Settings from ``{name: value}`` (text values converted by the field's type, as for
        ``-p NAME=VALUE``) over ``base`` (defaults where neither names a field).

        Raises:
            InputError: an unknown name or a value of the wrong type or range.
        """
        from dataclasses import fields

        from attentrack.tracker.base import coerce_option

        types = {f.name: f.type for f in fields(cls)}
        values = dict(base or {})
        for name, value in options.items():
            key = name.replace("-", "_")
            if key not in types:
                raise InputError(f"runner has no setting {name!r}; its settings: {', '.join(sorted(types))}")
            values[key] = coerce_option(value, types[key], key) if isinstance(value, str) else value
        return cls(**values)

    @property
    def weights(self) -> CostWeights:
        """The cost weights."""
        return CostWeights(self.overlap_weight, self.motion_weight, self.appearance_weight)


@dataclass
class _TrackState:
    """One object the runner knows (tentative, confirmed or lost)."""

    box: np.ndarray
    kalman: BoxKalman
    embedding: np.ndarray
    state: str = TENTATIVE
    track_id: int = 0  # 0 until confirmed
    model_id: int | None = None  # the id of the model's track that follows it
    hits: int = 1
    misses: int = 0
    low_score: int = 0
    score: float = 1.0
    pinned: bool = False
    grouped: int = 0  # frames in a row spent inside a group's detection
    reported: Track | None = None
    extra: dict = field(default_factory=dict)


def _detections(detections, score_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` boxes and ``(N,)`` scores from ``(boxes, scores)``, ``(N, 4)`` or ``(N, 5)``."""
    if detections is None:
        return np.zeros((0, 4)), np.zeros(0)
    if isinstance(detections, tuple):
        boxes, scores = as_boxes(detections[0]), np.asarray(detections[1], dtype=np.float64).reshape(-1)
    else:
        arr = np.asarray(detections, dtype=np.float64)
        arr = arr.reshape(-1, arr.shape[-1]) if arr.size else np.zeros((0, 4))
        if arr.shape[1] not in (4, 5):
            raise InputError(f"detections must be (N, 4) x,y,w,h or (N, 5) with a score; got shape {arr.shape}")
        boxes = arr[:, :4]
        scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr))
    if len(scores) != len(boxes):
        raise InputError(f"{len(boxes)} detection boxes but {len(scores)} scores")
    keep = (scores >= score_threshold) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return boxes[keep], scores[keep]


class MultiObjectTracker(Tracker):
    """Tracks every object of a video from per-frame detections, keeping identities.

    Args:
        model: a tracker that follows each confirmed object (e.g. HART); its predictions
            are used where it is sure, and it is restarted on a detection when it drifts.
            None: tracking by detection alone (Kalman prediction and appearance).
        proposer: where detections come from when :meth:`update` is given none (any object
            with ``propose(frame) -> (boxes, scores)``); None: only the given ones.
        settings: the :class:`RunnerSettings`.
    """

    def __init__(self, model: Tracker | None = None, proposer=None, settings: RunnerSettings | None = None) -> None:
        super().__init__()
        self.model = model
        self.proposer = proposer
        self.settings = settings or RunnerSettings()
        self._objects: list[_TrackState] = []
        self._frames = 0
        self.static_camera_user = getattr(model, "static_camera_user", "")

    # -- the Tracker interface -------------------------------------------------------------

    def start(self, frame: np.ndarray, boxes) -> list[int]:
        """Start confirmed tracks at given ``(N, 4)`` ``x, y, w, h`` boxes (``--init``).

        With a model that finds its own objects (the runner's detector), the boxes start tracks
        that only its detections keep, and a warning says so."""
        boxes = as_boxes(boxes)
        if len(boxes) and self.model is None:
            from attentrack.tracker.detections import ModelDetections

            if isinstance(self.proposer, ModelDetections):
                name = getattr(self.proposer.model, "tracker_id", "") or type(self.proposer.model).__name__
                warnings.warn(f"{name} finds its own objects and does not follow given boxes: the --init boxes "
                              f"start tracks that continue only where {name} detects something", stacklevel=2)
        embeddings = colour_embeddings(frame, boxes)
        model_ids = self.model.start(frame, boxes) if self.model is not None and len(boxes) else [None] * len(boxes)
        ids = []
        for box, emb, mid in zip(boxes, embeddings, model_ids):
            obj = self._new_object(box, emb)
            obj.state, obj.track_id, obj.model_id = CONFIRMED, self.new_ids(1)[0], mid
            obj.pinned = self.settings.keep_init
            obj.hits = self.settings.min_hits
            self._objects.append(obj)
            ids.append(obj.track_id)
        return ids

    def update(self, frame: np.ndarray, detections=None) -> list[Track]:
        """Advance to ``frame``.

        Args:
            frame: ``(H, W, 3)`` uint8 BGR.
            detections: this frame's detections, ``(N, 4)`` ``x, y, w, h`` pixels, ``(N, 5)``
                with a score, or ``(boxes, scores)``; None asks the proposer (if any).

        Returns:
            the confirmed tracks seen (or coasted) in this frame.
        """
        s = self.settings
        self._frames += 1
        height, width = frame.shape[:2]
        proposed = detections is None and self.proposer is not None
        if proposed:
            detections = self.proposer.propose(frame)
        have_detections = detections is not None
        det_boxes, det_scores = _detections(detections, s.score_threshold)
        det_emb = colour_embeddings(frame, det_boxes)

        model_tracks = self._model_step(frame)
        predictions = np.array([self._predict(o, model_tracks.get(o.model_id)) for o in self._objects]).reshape(-1, 4)

        matched: dict[int, int] = {}
        active = [i for i, o in enumerate(self._objects) if o.state != TENTATIVE]
        tentative = [i for i, o in enumerate(self._objects) if o.state == TENTATIVE]
        strong = det_scores >= s.start_score
        free = [d for d in range(len(det_boxes)) if strong[d]]
        for group in (active, tentative):
            free = self._match(group, free, predictions, det_boxes, det_emb, matched)
        # the tracks seen in the last frame that no strong detection took may continue on a weak one
        seen = [i for i in active if i not in matched and self._objects[i].misses == 0]
        self._match(seen, [d for d in range(len(det_boxes)) if not strong[d]], predictions, det_boxes, det_emb,
                    matched)

        grouped = self._groups(matched, det_boxes, predictions) if s.groups else {}
        group_detections = set(grouped.values())
        free = [d for d in free if d not in group_detections]  # a group starts no track of its own
        self._apply_matches(frame, matched, det_boxes, det_scores, det_emb, predictions, model_tracks, grouped)
        motion_coast = s.motion_coast_proposals if proposed else s.motion_coast
        self._age_unmatched(matched, have_detections, predictions, model_tracks, width, height, grouped, motion_coast)
        self._start_new(free, det_boxes, det_scores, det_emb)
        return [o.reported for o in self._objects if o.reported is not None]

    def _match(self, group: list[int], free: list[int], predictions: np.ndarray, det_boxes: np.ndarray,
               det_emb: np.ndarray, matched: dict[int, int]) -> list[int]:
        """Match the objects ``group`` (indices into the runner's list) to the detections
        ``free`` (indices) by Hungarian assignment on the association cost; adds the pairs to
        ``matched`` and returns the detections left."""
        if not group or not free:
            return free
        s = self.settings
        objs = [self._objects[i] for i in group]
        gates = np.array([self._gate(o) for o in objs])
        app = cosine_distance(np.array([o.embedding for o in objs]), det_emb[free])
        cost = association_cost(predictions[group], det_boxes[free], gates, app, s.weights)
        lost_rows = [k for k, o in enumerate(objs) if o.misses > 0]
        if lost_rows:  # a lost track is re-found only by something that looks like it
            cost[lost_rows] = np.where(app[lost_rows] <= s.max_appearance, cost[lost_rows], np.inf)
        cost = np.where(np.isfinite(cost), cost, 1e6)
        pairs, _, _ = assign(cost, s.max_cost)
        for r, c in pairs:
            matched[group[r]] = free[c]
        taken = {c for _, c in pairs}
        return [d for k, d in enumerate(free) if k not in taken]

    def remove(self, track_ids) -> None:
        """Forget the given confirmed track ids."""
        drop = {int(t) for t in track_ids}
        self._end([o for o in self._objects if o.track_id in drop])

    @property
    def track_ids(self) -> list[int]:
        """Ids of the confirmed tracks (live or lost)."""
        return [o.track_id for o in self._objects if o.state != TENTATIVE]

    def reset(self) -> None:
        """Forget every object; ids start again at 1."""
        self._end(list(self._objects))
        self._frames = 0
        self._next_id = 1

    @property
    def frames_seen(self) -> int:
        """Frames given to :meth:`update` since the start or the last :meth:`reset`."""
        return self._frames

    # -- steps -----------------------------------------------------------------------------

    def _new_object(self, box: np.ndarray, embedding: np.ndarray, score: float = 1.0) -> _TrackState:
        kalman = BoxKalman(box)
        return _TrackState(box=np.asarray(box, dtype=np.float64).copy(), kalman=kalman, embedding=embedding.copy(),
                           score=float(score))

    def _model_step(self, frame: np.ndarray) -> dict[int, Track]:
        if self.model is None or not self.model.track_ids:
            return {}
        return {t.track_id: t for t in self.model.update(frame)}

    def _predict(self, obj: _TrackState, model_track: Track | None) -> np.ndarray:
        predicted = obj.kalman.predict() if self.settings.motion else obj.box.copy()
        if model_track is not None and model_track.score >= self.settings.trust_model:
            return np.asarray(model_track.box, dtype=np.float64)
        return predicted

    def _motion_prediction(self, obj: _TrackState) -> np.ndarray:
        """Where the motion model alone expects ``obj`` this frame (after :meth:`_predict`): a
        model that follows appearance may follow the wrong member of a group."""
        return obj.kalman.box if self.settings.motion else obj.box.copy()

    def _gate(self, obj: _TrackState) -> float:
        s = self.settings
        reach = min(s.gate * np.sqrt(1.0 + obj.misses), s.max_gate)
        return reach * max(float(obj.box[3]), 1.0)

    def _groups(self, matched: dict[int, int], det_boxes: np.ndarray, predictions: np.ndarray) -> dict[int, int]:
        """The objects hidden in a group this frame (see ``RunnerSettings.groups``): live
        confirmed tracks, unmatched or matched to the group's detection, whose predicted boxes
        share one detection with another such track. Returns ``{index into the runner's list:
        index of the group's detection}``."""
        s = self.settings
        live = [i for i, o in enumerate(self._objects) if o.state != TENTATIVE and o.grouped < s.max_lost
                and (o.grouped or (o.misses == 0 and o.hits >= s.min_hits))]
        if len(live) < 2 or not len(det_boxes):
            return {}
        boxes = predictions[live]
        inside = inside_matrix(boxes, det_boxes)
        nested = inside_matrix(boxes, boxes)
        np.fill_diagonal(nested, 0.0)
        areas = boxes[:, 2] * boxes[:, 3]
        grouped: dict[int, int] = {}
        for d in range(len(det_boxes)):
            members = [k for k in range(len(live)) if inside[k, d] >= s.group_inside
                       and matched.get(live[k], d) == d]
            # a box mostly inside a larger member's is a part or a duplicate of it, not another object
            members = [k for k in members
                       if not any(nested[k, j] >= s.group_inside and areas[j] >= areas[k] for j in members if j != k)]
            if len(members) < 2:
                continue
            widths, heights = boxes[members, 2], boxes[members, 3]
            # side by side, each about as tall as the detection (parts of one object stack up), and
            # the detection wider than one of them (one object's detection is no wider than it)
            if heights.min() >= GROUP_MIN_HEIGHT * det_boxes[d, 3] and det_boxes[d, 2] >= s.group_size * widths.max():
                grouped.update({live[k]: d for k in members})
        return grouped

    def _group_box(self, obj: _TrackState) -> np.ndarray:
        """Where a member of a group is this frame: where the motion model expects it (a model
        that follows appearance may follow the wrong member), at the size it had (which stops
        changing while it is in the group). Moving it inside the group's detection when it
        drifts out lost IDF1 and MOTA on TUD and MOT15 ADL-Rundle-6 (2026-12-07)."""
        if self.settings.motion:
            obj.kalman.stop(size_only=True)
        return self._motion_prediction(obj)

    def _apply_matches(self, frame, matched, det_boxes, det_scores, det_emb, predictions, model_tracks,
                       grouped: dict[int, int]) -> None:
        s = self.settings
        restart_ids, restart_boxes = [], []
        for i, d in matched.items():
            obj = self._objects[i]
            if i in grouped:  # the detection holds others too: the object stays where it is expected
                box = self._group_box(obj)
                obj.box, obj.grouped = box, obj.grouped + 1
            else:
                box = det_boxes[d]
                filtered = obj.kalman.update(box) if s.motion else box
                obj.box = (filtered if s.report == "filtered" else box).copy()
                obj.embedding = _blend(obj.embedding, det_emb[d], s.appearance_momentum)
                obj.grouped = 0
            obj.hits = obj.hits + 1 if obj.misses == 0 else 1
            obj.misses = 0
            obj.low_score = 0
            obj.score = float(det_scores[d])
            if obj.state == LOST:
                obj.state = CONFIRMED
            if obj.state == TENTATIVE and (obj.hits >= s.min_hits or self._frames <= s.min_hits):
                obj.state, obj.track_id = CONFIRMED, self.new_ids(1)[0]
            if obj.state == CONFIRMED and self.model is not None and i not in grouped:  # not on a group's box
                mt = model_tracks.get(obj.model_id)
                if obj.model_id is None or mt is None:
                    obj.model_id = self._start_model(frame, box)
                elif iou_matrix(np.asarray(mt.box)[None], box[None])[0, 0] < 0.5:
                    restart_ids.append(obj.model_id)
                    restart_boxes.append(box)
            obj.reported = self._report(obj, model_tracks.get(obj.model_id)) if obj.state == CONFIRMED else None
        if restart_ids and not self._reanchor_model(frame, restart_ids, np.array(restart_boxes)):
            self.model.remove(restart_ids)
            for obj in self._objects:
                if obj.model_id in restart_ids:
                    obj.model_id = self._start_model(frame, obj.box)

    def _start_model(self, frame: np.ndarray, box: np.ndarray) -> int | None:
        """The model's id for a new object at ``box`` (``(4,)`` ``x, y, w, h`` pixels); None when
        the model cannot follow that box (e.g. too small for it): then detections and motion
        alone keep the track."""
        try:
            return self.model.start(frame, box[None])[0]
        except InputError:
            return None

    def _reanchor_model(self, frame: np.ndarray, model_ids: list, boxes: np.ndarray) -> bool:
        try:
            return self.model.reanchor(frame, model_ids, boxes)
        except InputError:  # a box the model cannot take: restart each object instead
            return False

    def _age_unmatched(self, matched, have_detections, predictions, model_tracks, width, height,
                       grouped: dict[int, int], motion_coast: int) -> None:
        """Age the objects no detection matched; ``motion_coast``: frames a confirmed one is still
        reported at the motion model's prediction (``RunnerSettings.motion_coast`` or
        ``motion_coast_proposals``, by where this frame's detections came from)."""
        s = self.settings
        ended = []
        for i, obj in enumerate(self._objects):
            if i in matched:
                if self._left_frame(obj.box, width, height) and not obj.pinned:
                    ended.append(obj)
                continue
            mt = model_tracks.get(obj.model_id)
            obj.reported = None
            if obj.state == TENTATIVE:
                ended.append(obj)
                continue
            if i in grouped:  # hidden in a group's detection: live at its predicted box
                obj.box, obj.grouped, obj.state = self._group_box(obj), obj.grouped + 1, CONFIRMED
                obj.reported = self._report(obj, mt)
                if self._left_frame(obj.box, width, height) and not obj.pinned:
                    ended.append(obj)
                continue
            obj.grouped = 0
            sure = mt is not None and mt.score >= s.trust_model
            if not have_detections:
                # following given boxes with no detector: the model alone says where the object is
                if mt is not None:
                    obj.box, obj.score = np.asarray(mt.box, dtype=np.float64), float(mt.score)
                    obj.kalman.update(obj.box)
                else:
                    obj.box = predictions[i].copy()
                obj.low_score = obj.low_score + 1 if obj.score < s.min_score else 0
                obj.reported = self._report(obj, mt)
                if not obj.pinned and (obj.low_score > s.max_low_score or self._left_frame(obj.box, width, height)):
                    ended.append(obj)
                continue
            obj.misses += 1
            obj.state = LOST
            obj.box = predictions[i].copy()
            if obj.misses > 3:
                obj.kalman.stop()
            if sure and obj.misses <= s.coast:
                obj.box = np.asarray(mt.box, dtype=np.float64)
                obj.reported = self._report(obj, mt)
            elif s.motion and obj.misses <= motion_coast and obj.hits >= s.min_hits:
                obj.reported = self._report(obj, mt)  # at the motion model's prediction
            if not obj.pinned and (obj.misses > s.max_lost or self._left_frame(obj.box, width, height)):
                ended.append(obj)
        self._end(ended)

    def _start_new(self, free, det_boxes, det_scores, det_emb) -> None:
        s = self.settings
        if not free:
            return
        live = np.array([o.box for o in self._objects if o.misses == 0]).reshape(-1, 4)
        for d in free:
            if len(live) and iou_matrix(det_boxes[d][None], live).max() >= s.new_overlap:
                continue  # a second detection of something already followed
            obj = self._new_object(det_boxes[d], det_emb[d], det_scores[d])
            if self._frames <= s.min_hits or s.min_hits <= 1:  # at the start nothing has a history yet
                obj.state, obj.track_id = CONFIRMED, self.new_ids(1)[0]
                obj.reported = self._report(obj, None)
            self._objects.append(obj)
            live = np.vstack([live, det_boxes[d][None]])

    def _report(self, obj: _TrackState, model_track: Track | None) -> Track:
        if model_track is not None:
            return Track(obj.track_id, obj.box.copy(), float(obj.score), model_track.glimpse, model_track.mask,
                         model_track.inset)
        return Track(obj.track_id, obj.box.copy(), float(obj.score))

    def _left_frame(self, box: np.ndarray, width: int, height: int) -> bool:
        inside = clip_to_frame(box[None], width, height)[0]
        return inside[2] * inside[3] < self.settings.min_inside * max(box[2] * box[3], 1e-9)

    def _end(self, objects: list[_TrackState]) -> None:
        if not objects:
            return
        gone = {id(o) for o in objects}
        if self.model is not None:
            model_ids = [o.model_id for o in objects if o.model_id is not None]
            if model_ids:
                self.model.remove(model_ids)
        self._objects = [o for o in self._objects if id(o) not in gone]


def multi_object_tracker(model: Tracker | None, proposer=None, settings: RunnerSettings | None = None,
                         source=None, say: Callable[[str], None] | None = None) -> MultiObjectTracker:
    """The runner for ``model``, as ``track``, ``batch`` and the Python API build it.

    Args:
        model: the tracker. One that finds its own objects (``self_starting``, e.g. SQAIR or
            the blobs baseline) becomes the runner's detector, so that its objects go through
            the runner's life cycle and keep their ids when the model forgets them for a few
            frames; any other follows each confirmed object. None: detections alone.
        proposer: where new objects come from (e.g. MOG2), for a model that does not find its
            own; None: only given boxes (``--init``) and given detections.
        settings: the :class:`RunnerSettings` (defaults when None).
        source: the :class:`~attentrack.tracker.frame_source.FrameSource` to be tracked, or
            None. The detector's background model is primed from it first
            (:func:`prime_detector`: a recording's median; a camera's or a stream's first seconds).
        say: told one line before a camera or stream is watched (None: nothing said).
    """
    live_seconds = (settings or RunnerSettings()).live_prime_seconds
    if model is not None and getattr(model, "self_starting", False):
        from attentrack.tracker.detections import ModelDetections

        if source is not None:
            prime_detector(model, source, live_seconds=live_seconds, say=say)
        runner = MultiObjectTracker(None, ModelDetections(model), settings)
        runner.static_camera_user = getattr(model, "static_camera_user", "")
        return runner
    if source is not None and proposer is not None:
        prime_detector(proposer, source, live_seconds=live_seconds, say=say)
    return MultiObjectTracker(model, proposer, settings)


#: :func:`prime_detector` reads at most this many frames from the start of a recording ...
PRIME_FRAMES = 500
#: ... and keeps at most this many of them, evenly spaced
PRIME_SAMPLES = 50
#: a live source (camera, stream) is primed from its first this many seconds instead
#: (:attr:`RunnerSettings.live_prime_seconds`)
PRIME_LIVE_SECONDS = RunnerSettings.live_prime_seconds


def prime_detector(detector, source, frames: int = PRIME_FRAMES, samples: int = PRIME_SAMPLES,
                   live_seconds: float = PRIME_LIVE_SECONDS, say: Callable[[str], None] | None = None) -> bool:
    """Show a background-subtracting detector the scene without its moving objects before it
    starts: the median of frames spread over the first ``frames`` of a recording, so that
    objects present from the first frame are found at once (a plain background model learns
    them into the background instead, and misses them until they move away), and the camera's
    noise measured on them.

    A live source (camera, stream), whose frames cannot be read twice, is read for its first
    ``live_seconds`` (at least 10 frames) in a session of its own, closed before tracking opens
    the next: the tracking starts that much later, from a background model that knows the scene.
    Measured on recordings run as if live (2026-12-08, ``attentrack eval pipelines [SEQ] -m hart
    --as-live [-r live_prime_seconds=S]``, IDF1 / MOTA): TUD 0.436 / 0.147, MOT15 ADL-Rundle-6
    0.339 / 0.148, against 0.313 / -0.042 and 0.343 / 0.165 unprimed, as live sources were before
    (2 s: 0.422 / 0.087 and 0.340 / 0.168), and 0.395 / 0.147 and 0.386 / 0.206 for the recording
    primed from its median (docs/benchmarks.md).

    Args:
        detector: anything with ``prime(frames)`` (e.g.
            :class:`~attentrack.tracker.proposals.MOG2Proposer`); others are left alone.
        source: a :class:`~attentrack.tracker.frame_source.FrameSource`.
        frames: how many frames from the start of a recording are read (at most).
        samples: how many of them, evenly spaced, make the median.
        live_seconds: how long a live source is watched first (0: live sources are not primed;
            :attr:`RunnerSettings.live_prime_seconds`).
        say: told one line before a live source is watched (else its first seconds pass with
            nothing shown); None: nothing said.

    Returns:
        whether the detector was primed.
    """
    from itertools import islice

    from attentrack.datasets.wide_view import evenly_spaced

    if not hasattr(detector, "prime"):
        return False
    if getattr(source, "live", True):
        if live_seconds <= 0:
            return False
        frames = max(10, round(live_seconds * getattr(source, "fps", 25.0)))
        if say is not None:
            say(f"{getattr(source, 'name', 'source')}: learning the background from its first {live_seconds:g} s "
                "(-r live_prime_seconds)")
    reading = iter(source)
    try:
        sample = evenly_spaced((frame for _, frame in islice(reading, frames)), samples)
    finally:  # a camera is released before tracking opens it again
        getattr(reading, "close", lambda: None)()
    if not sample:
        return False
    detector.prime(sample)
    return True


def _blend(old: np.ndarray, new: np.ndarray, momentum: float) -> np.ndarray:
    """Running appearance: ``momentum`` of ``old`` plus the rest of ``new``, renormalised."""
    mixed = momentum * old + (1.0 - momentum) * new
    norm = float(np.linalg.norm(mixed))
    return mixed / norm if norm > 0 else new
