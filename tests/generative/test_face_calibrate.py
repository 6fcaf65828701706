"""The face score's calibration: AUC and the Youden threshold on known scores."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.generative.face.calibrate import auc, youden_threshold


def test_auc_is_the_pairwise_win_rate():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 40).round(1), rng.normal(0, 1, 30).round(1)  # rounded: ties
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auc(pos, neg) == pytest.approx(pairs)
    assert auc([2, 3], [0, 1]) == 1.0 and auc([0, 1], [2, 3]) == 0.0 and auc([1, 1], [1, 1]) == 0.5


def test_youden_threshold_separates_separable_scores():
    t, tpr, fpr = youden_threshold([0.7, 0.8, 0.9], [0.1, 0.2, 0.6])
    assert 0.6 < t < 0.7 and tpr == 1.0 and fpr == 0.0
    t, tpr, fpr = youden_threshold([0.5, 0.9, 0.95], [0.1, 0.6, 0.2])
    assert tpr - fpr == pytest.approx(max((np.array([0.5, 0.9, 0.95]) >= c).mean() - (np.array([0.1, 0.6, 0.2]) >= c).mean()
                                          for c in np.linspace(0, 1, 1001)))
