"""Following many objects with no ``--init``: proposals start tracks, the tracker follows
them, and tracks end when they leave the frame or lose their object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from attentrack.tracker.base import Track, Tracker
from attentrack.tracker.boxes import clip_to_frame, iou_matrix, xywh_to_cxcywh
from attentrack.tracker.proposals import Proposer


@dataclass
class _Candidate:
    box: np.ndarray
    hits: int = 1
    misses: int = 0


@dataclass
class _Life:
    unsupported: int = 0
    low_score: int = 0
    age: int = 0


class MultiObjectRunner:
    """Starts and ends tracks of a :class:`~attentrack.tracker.base.Tracker` from proposals.

    Args:
        tracker: any registered tracker; it follows the objects.
        proposer: where new objects come from.
        match_iou: IoU at which a proposal is explained by a track.
        min_hits: frames in a row a new proposal must be seen before its track starts.
        max_unsupported: a track ends after this many frames with no proposal near it.
        min_score: a track whose score stays below this for ``max_low_score`` frames ends.
        max_low_score: see ``min_score``.
        min_inside: least fraction of a track's box inside the frame; below it, it has left.
    """

    def __init__(
        self,
        tracker: Tracker,
        proposer: Proposer,
        match_iou: float = 0.3,
        min_hits: int = 3,
        max_unsupported: int = 15,
        min_score: float = 0.2,
        max_low_score: int = 5,
        min_inside: float = 0.3,
    ) -> None:
        self.tracker = tracker
        self.proposer = proposer
        self.match_iou = match_iou
        self.min_hits = min_hits
        self.max_unsupported = max_unsupported
        self.min_score = min_score
        self.max_low_score = max_low_score
        self.min_inside = min_inside
        self._life: dict[int, _Life] = {}
        self._candidates: list[_Candidate] = []

    def step(self, frame: np.ndarray) -> list[Track]:
        """Process one frame; returns the live tracks after it.

        Tracks and proposals are matched in two stages: by IoU (Hungarian, at least
        ``match_iou``), then the tracks and proposals left over by centre distance (within
        the track's size); a track matched only in the second stage has drifted and is
        restarted on its proposal (:meth:`Tracker.reanchor`). A track that lost its proposal
        while overlapping a supported track is a duplicate and ends. Proposals that no track
        explains become candidates, and tracks after ``min_hits`` frames.
        """
        H, W = frame.shape[:2]
        tracks = self.tracker.update(frame) if self.tracker.track_ids else []
        proposals, _ = self.proposer.propose(frame)
        proposals = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)
        track_boxes = np.array([t.box for t in tracks]).reshape(-1, 4)

        explained = np.zeros(len(proposals), dtype=bool)
        supported: set[int] = set()
        if len(tracks) and len(proposals):
            ious = iou_matrix(track_boxes, proposals)
            rows, cols = linear_sum_assignment(-ious)
            used_p = set()
            for r, c in zip(rows, cols):
                if ious[r, c] >= self.match_iou:
                    supported.add(int(r))
                    used_p.add(int(c))
            # second stage: drifted tracks near a free proposal
            free_t = [i for i in range(len(tracks)) if i not in supported]
            free_p = [j for j in range(len(proposals)) if j not in used_p]
            if free_t and free_p:
                ct = xywh_to_cxcywh(track_boxes[free_t])[:, :2]
                cp = xywh_to_cxcywh(proposals[free_p])[:, :2]
                dist = np.linalg.norm(ct[:, None] - cp[None], axis=2)
                reach = np.maximum(track_boxes[free_t, 2], track_boxes[free_t, 3])[:, None]
                cost = np.where(dist <= reach, dist / reach, 1e6)
                r2, c2 = linear_sum_assignment(cost)
                pairs = [(free_t[r], free_p[c]) for r, c in zip(r2, c2) if cost[r, c] <= 1.0]
                if pairs and self.tracker.reanchor(frame, [tracks[r].track_id for r, _ in pairs],
                                                   proposals[[c for _, c in pairs]]):
                    for r, c in pairs:
                        tracks[r] = Track(tracks[r].track_id, proposals[c].copy(), tracks[r].score)
                        supported.add(r)
                        used_p.add(c)
                    track_boxes = np.array([t.box for t in tracks]).reshape(-1, 4)
                    ious = iou_matrix(track_boxes, proposals)
            # a proposal that overlaps any track substantially is explained, matched or not
            explained = ious.max(axis=0) >= self.match_iou
            explained |= _fraction_inside(proposals, track_boxes).max(axis=0) >= 0.6
            explained[list(used_p)] = True

        duplicate = set()
        if len(tracks) > 1:
            tt = iou_matrix(track_boxes, track_boxes)
            np.fill_diagonal(tt, 0.0)
            for i in range(len(tracks)):
                if i not in supported and any(tt[i, j] > 0.5 for j in supported):
                    duplicate.add(i)

        ended = []
        for i, t in enumerate(tracks):
            life = self._life.setdefault(t.track_id, _Life())
            life.age += 1
            life.unsupported = 0 if i in supported else life.unsupported + 1
            life.low_score = life.low_score + 1 if t.score < self.min_score else 0
            inside = clip_to_frame(t.box[None], W, H)[0]
            area = max(t.box[2] * t.box[3], 1e-9)
            left = inside[2] * inside[3] / area < self.min_inside
            if (left or i in duplicate or life.unsupported > self.max_unsupported
                    or life.low_score > self.max_low_score):
                ended.append(t.track_id)
        if ended:
            self.tracker.remove(ended)
            for tid in ended:
                self._life.pop(tid, None)
        tracks = [t for t in tracks if t.track_id not in set(ended)]

        new_boxes = self._confirm(proposals[~explained])
        if len(new_boxes):
            ids = self.tracker.start(frame, new_boxes)
            for tid, box in zip(ids, new_boxes):
                self._life[tid] = _Life()
                tracks.append(Track(tid, box.copy(), 1.0))
        return tracks

    def _confirm(self, proposals: np.ndarray) -> np.ndarray:
        """Match unexplained proposals to pending candidates; return those seen ``min_hits`` times."""
        matched_c = set()
        fresh = []
        if self._candidates and len(proposals):
            ious = iou_matrix(np.array([c.box for c in self._candidates]), proposals)
            rows, cols = linear_sum_assignment(-ious)
            used_p = set()
            for r, c in zip(rows, cols):
                if ious[r, c] >= self.match_iou:
                    cand = self._candidates[r]
                    cand.box, cand.hits, cand.misses = proposals[c], cand.hits + 1, 0
                    matched_c.add(r)
                    used_p.add(c)
            fresh = [proposals[j] for j in range(len(proposals)) if j not in used_p]
        else:
            fresh = list(proposals)
        keep, confirmed = [], []
        for i, cand in enumerate(self._candidates):
            if i not in matched_c:
                cand.misses += 1
            if cand.hits >= self.min_hits:
                confirmed.append(cand.box)
            elif cand.misses <= 1:
                keep.append(cand)
        self._candidates = keep + [_Candidate(np.asarray(b, dtype=np.float64)) for b in fresh]
        return np.asarray(confirmed, dtype=np.float64).reshape(-1, 4)


def _fraction_inside(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """``(M, N)``: fraction of each ``boxes_a[n]`` area covered by ``boxes_b[m]`` (x,y,w,h px)."""
    a = boxes_a
    b = boxes_b
    x0 = np.maximum(b[:, None, 0], a[None, :, 0])
    y0 = np.maximum(b[:, None, 1], a[None, :, 1])
    x1 = np.minimum(b[:, None, 0] + b[:, None, 2], a[None, :, 0] + a[None, :, 2])
    y1 = np.minimum(b[:, None, 1] + b[:, None, 3], a[None, :, 1] + a[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / np.maximum(a[None, :, 2] * a[None, :, 3], 1e-9)
