"""A constant-velocity Kalman filter over boxes, the motion model of the multi-object runner.

The state is ``cx, cy, w, h`` (centre and size, pixels) and their velocities (pixels per
frame). Noise is proportional to the box's size, so the same settings serve people of 20
pixels and of 200: nothing here is in absolute pixels.
"""

from __future__ import annotations

import numpy as np

from attentrack.tracker.boxes import cxcywh_to_xywh, xywh_to_cxcywh

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


class BoxKalman:
    """One object's box under constant velocity.

    Args:
        box: ``(4,)`` ``x, y, w, h`` in pixels, the first measurement.
        position_noise: standard deviation of a measurement's centre and size, as a fraction
            of the box's height.
        velocity_noise: standard deviation of the per-frame change of velocity, as a fraction
            of the box's height.
    """

    def __init__(self, box, position_noise: float = 0.05, velocity_noise: float = 0.00625) -> None:
        self.position_noise = position_noise
        self.velocity_noise = velocity_noise
        self.mean = np.zeros(8)
        self.mean[:4] = xywh_to_cxcywh(np.asarray(box, dtype=np.float64)[None])[0]
        h = max(self.mean[3], 1.0)
        std = np.r_[2 * position_noise * h * np.ones(4), 10 * velocity_noise * h * np.ones(4)]
        self.cov = np.diag(std ** 2)

    def _noise(self, velocity: bool) -> np.ndarray:
        h = max(self.mean[3], 1.0)
        return (self.velocity_noise if velocity else self.position_noise) * h

    def predict(self) -> np.ndarray:
        """Advance one frame; returns the predicted ``(4,)`` ``x, y, w, h``."""
        q = np.r_[self._noise(False) * np.ones(4), self._noise(True) * np.ones(4)] ** 2
        self.mean = _F @ self.mean
        self.mean[2:4] = np.maximum(self.mean[2:4], 1.0)
        self.cov = _F @ self.cov @ _F.T + np.diag(q)
        return self.box

    def update(self, box) -> np.ndarray:
        """Correct with a measured ``(4,)`` ``x, y, w, h``; returns the filtered box."""
        z = xywh_to_cxcywh(np.asarray(box, dtype=np.float64)[None])[0]
        r = np.diag((self._noise(False) * np.ones(4)) ** 2)
        s = _H @ self.cov @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.cov).T
        self.mean = self.mean + gain @ (z - _H @ self.mean)
        self.cov = (np.eye(8) - gain @ _H) @ self.cov
        self.mean[2:4] = np.maximum(self.mean[2:4], 1.0)
        return self.box

    def stop(self, size_only: bool = False) -> None:
        """Forget the velocity (an object that was not seen for a while is not extrapolated);
        with ``size_only`` only the rate at which the size changes (an object hidden in a group
        keeps moving but is not made to grow or shrink)."""
        self.mean[6 if size_only else 4:] = 0.0

    @property
    def box(self) -> np.ndarray:
        """The current ``(4,)`` ``x, y, w, h`` estimate."""
        return cxcywh_to_xywh(self.mean[None, :4])[0]

    @property
    def velocity(self) -> np.ndarray:
        """``(2,)`` centre velocity in pixels per frame."""
        return self.mean[4:6].copy()
