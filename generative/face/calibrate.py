"""Calibration of the face score: how well does it tell a window on a face from one off it?

Windows come from localisation scenes (:func:`attentrack.generative.face.scenes.make_scenes`):
each scene gives one *on-face* window (the true transform, its centre moved by up to
``on_jitter`` face sides and its side by up to that fraction, as a tracker finds it) and one
*off-face* window (same side, centred where its box overlaps the face's by IoU < 0.1). Both
are refined by HMC exactly as the ``face-attention`` tracker refines a frame (chains around the
window, side within ``max_zoom``, a Gaussian motion prior around it), so the score is measured
where the tracker reads it.

The model's own score is the logistic of the per-pixel face-versus-background log-likelihood
ratio. The *calibrated* score is a logistic regression of on-face against off-face on the two
per-pixel log-likelihoods (face model, background model), fitted on windows of the **training**
people on **training** backgrounds; its threshold is the score maximising Youden's
``J = TPR - FPR`` on those same fitting windows. Both scores are then measured on windows of
the **held-out** people on **test** backgrounds: the AUC (the probability that a random
on-face window scores above a random off-face one, ties half) and the TPR and FPR at the
threshold. ``attentrack eval face-score --save`` writes the calibration into a weights file's
metadata (``score_calibration``), where the tracker reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from attentrack.generative.face.localise import HMCOptions, calibrated_score, refine, score_of_ratio, window_ratio
from attentrack.generative.face.model import FaceModel
from attentrack.generative.face.transform import u_to_box
from attentrack.tracker.boxes import iou as box_iou


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """``P(score(positive) > score(negative))`` with ties counted half (the ROC curve's area)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):  # average ranks of ties
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def youden_threshold(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float, float]:
    """The threshold ``t`` maximising ``TPR - FPR`` for the rule ``score >= t``: ``(t, TPR, FPR)``;
    ``t`` is halfway between the two scores it separates."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    values = np.unique(np.concatenate([pos, neg]))
    cuts = np.concatenate([[values[0] - 1e-9], 0.5 * (values[1:] + values[:-1]), [values[-1] + 1e-9]])
    tpr = (pos[None, :] >= cuts[:, None]).mean(1)
    fpr = (neg[None, :] >= cuts[:, None]).mean(1)
    k = int(np.argmax(tpr - fpr))
    return float(cuts[k]), float(tpr[k]), float(fpr[k])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method (a small L2 penalty keeps separable data finite).

    Args:
        x: ``(N, D)`` features.
        y: ``(N,)`` labels 0 or 1.
        l2: penalty on the weights (not the bias).
        iterations: Newton steps.

    Returns:
        ``(D + 1,)``: the weights, then the bias.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    a = np.concatenate([x, np.ones((len(x), 1))], 1)
    w = np.zeros(a.shape[1])
    pen = np.full(a.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -50, 50)))
        grad = a.T @ (p - y) + pen * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


@dataclass
class ScoreCalibration:
    """Result of :func:`calibrate_score`.

    Attributes:
        windows: on-face windows per split (as many off-face ones).
        auc_ratio: held-out AUC of the model's own score (logistic of the ratio) after refinement.
        auc_ratio_raw: the same on the windows before refinement.
        auc_calibrated: held-out AUC of the calibrated score after refinement.
        auc_fit: AUC of the calibrated score on the fitting windows.
        weights: the calibrated score's weights on the per-pixel face and background log-likelihoods.
        bias: its bias.
        threshold: the Youden threshold of the calibrated score on the fitting windows.
        tpr: held-out on-face windows at or above it.
        fpr: held-out off-face windows at or above it.
        setup: how the windows were made.
    """

    windows: int
    auc_ratio: float
    auc_ratio_raw: float
    auc_calibrated: float
    auc_fit: float
    weights: list[float]
    bias: float
    threshold: float
    tpr: float
    fpr: float
    setup: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict."""
        return asdict(self)

    def metadata(self) -> dict:
        """What the tracker needs, for the weights' metadata ``score_calibration``."""
        return {"weights": [round(v, 6) for v in self.weights], "bias": round(self.bias, 6),
                "threshold": round(self.threshold, 6), "auc_held_out": round(self.auc_calibrated, 4),
                "windows": self.windows, "seed": self.setup.get("seed", 0)}

    def format(self) -> str:
        """A few lines of plain text."""
        return "\n".join([
            f"face score calibration: {self.windows} on-face and {self.windows} off-face windows per split, "
            "refined by HMC as the tracker does",
            "fit: training people on training backgrounds; AUC, TPR, FPR: held-out people on test backgrounds",
            f"AUC, model's ratio score, raw windows          {self.auc_ratio_raw:.3f}",
            f"AUC, model's ratio score                       {self.auc_ratio:.3f}",
            f"AUC, calibrated score (fit windows)            {self.auc_fit:.3f}",
            f"AUC, calibrated score                          {self.auc_calibrated:.3f}",
            f"calibrated score = sigmoid({self.weights[0]:.3f} face + {self.weights[1]:.3f} background + "
            f"{self.bias:.3f}) (per-pixel log-likelihoods)",
            f"learnt threshold (max TPR - FPR on the fit windows) {self.threshold:.4f}: "
            f"held-out TPR {self.tpr:.3f}, FPR {self.fpr:.3f}",
        ])


def _off_face_windows(rng: np.random.Generator, truth: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """One window per scene with the true side, centred where its box overlaps the face by IoU < 0.1."""
    w, h = image_size
    out = truth.copy()
    out[:, 3] = 0.0
    for i, u in enumerate(truth):
        s = u[2]
        for _ in range(200):
            cand = np.array([rng.uniform(s / 2, max(s / 2 + 1, w - s / 2)), rng.uniform(s / 2, max(s / 2 + 1, h - s / 2)),
                             s, 0.0])
            if box_iou(u_to_box(cand), u_to_box(u))[0] < 0.1:
                out[i] = cand
                break
    return out


def _window_terms(model: FaceModel, scenes, rng: np.random.Generator, on_jitter: float, opts: HMCOptions,
                  max_zoom: float, motion_sd: float, seed: int) -> dict[str, np.ndarray]:
    """Per-pixel ``(N, 2)`` face and background log-likelihoods of the on- and off-face windows
    after refinement (``on``, ``off``), and the raw windows' ratios (``on_raw``, ``off_raw``)."""
    n = len(scenes.images)
    h, w = scenes.images.shape[1:]
    on = scenes.u.copy()
    on[:, 0:2] += rng.uniform(-on_jitter, on_jitter, (n, 2)) * on[:, 2:3]
    on[:, 2] *= np.exp(rng.uniform(-on_jitter, on_jitter, n))
    off = _off_face_windows(rng, scenes.u, (w, h))
    pixels = model.vae.config.size ** 2
    out = {}
    for name, starts in (("on", on), ("off", off)):
        out[name + "_raw"] = np.array([window_ratio(model, scenes.images[i], starts[i : i + 1])[0] for i in range(n)])
        terms = np.empty((n, 2))
        for i in range(n):
            s = starts[i, 2]
            loc = refine(model, scenes.images[i : i + 1], starts[i : i + 1], opts,
                         ((1 - max_zoom) * s, (1 + max_zoom) * s), seed=seed + i, anchor=starts[i : i + 1],
                         anchor_sd=(motion_sd, 0.5 * motion_sd))
            terms[i] = loc.face[0] / pixels, loc.background[0] / pixels
        out[name] = terms
    return out


def calibrate_score(model: FaceModel, root: str | Path, windows: int = 200, seed: int = 0, held_out: int = 10,
                    on_jitter: float = 0.1, options: HMCOptions | None = None, max_zoom: float = 0.1,
                    motion_sd: float = 0.1) -> ScoreCalibration:
    """Fit the calibrated face score on training people and backgrounds, and measure it and the
    model's own score on held-out people and test backgrounds (see the module).

    Args:
        model: the face model.
        root: the data folder.
        windows: scenes per split, each giving one on-face and one off-face window.
        seed: seed of the scenes and of the windows.
        held_out: held-out people.
        on_jitter: on-face windows are moved by up to this many face sides and scaled by up to this fraction.
        options: the HMC settings (default: the tracker's).
        max_zoom: the side range of the refinement, as the tracker's option.
        motion_sd: the motion prior's standard deviation, as the tracker's option.
    """
    from attentrack.datasets.orl import load_orl, split_people
    from attentrack.generative.face.scenes import face_squares, load_backgrounds, make_scenes

    opts = options or HMCOptions(chains=4, steps=12, leapfrog=4, adapt=5, jitter=0.05, marginal=True)
    root = Path(root)
    faces = load_orl(root / "faces" / "orl")
    train_people, test_people = split_people(held_out, int(faces.person.max()))
    split = {}
    for k, (name, people, backgrounds) in enumerate((("fit", train_people, "train"), ("test", test_people, "test"))):
        rng = np.random.default_rng(40_000 + 17 * seed + k)
        scenes = make_scenes(rng, face_squares(faces.subset(people)), load_backgrounds(root, backgrounds), windows,
                             max_rotation=model.config.max_rotation)
        split[name] = _window_terms(model, scenes, rng, on_jitter, opts, max_zoom, motion_sd, seed + 100_000 * k)
    fit, test = split["fit"], split["test"]
    x = np.concatenate([fit["on"], fit["off"]])
    y = np.concatenate([np.ones(windows), np.zeros(windows)])
    coef = fit_logistic(x, y)
    cal = {"weights": [float(coef[0]), float(coef[1])], "bias": float(coef[2])}
    fit_on, fit_off = (calibrated_score(d[:, 0], d[:, 1], cal) for d in (fit["on"], fit["off"]))
    t, _, _ = youden_threshold(fit_on, fit_off)
    test_on, test_off = (calibrated_score(d[:, 0], d[:, 1], cal) for d in (test["on"], test["off"]))
    ratio_on, ratio_off = (score_of_ratio((d[:, 0] - d[:, 1]) * model.vae.config.size ** 2)
                           for d in (test["on"], test["off"]))
    setup = {"seed": seed, "held_out_people": held_out, "on_jitter": on_jitter, "hmc": asdict(opts),
             "max_zoom": max_zoom, "motion_sd": motion_sd,
             "fit": "training people on training backgrounds (tree.avi, TUD-Campus, kitti)",
             "test": "held-out people on test backgrounds (TUD-Stadtmitte, sot/Crossing, sot/bag)"}
    return ScoreCalibration(windows, auc(ratio_on, ratio_off), auc(test["on_raw"], test["off_raw"]),
                            auc(test_on, test_off), auc(fit_on, fit_off), cal["weights"], cal["bias"], t,
                            float((test_on >= t).mean()), float((test_off >= t).mean()), setup)
