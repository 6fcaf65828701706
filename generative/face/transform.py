"""The 2D similarity transform that places the canonical face in the image.

A transform is ``u = (cx, cy, s, theta)``: the canonical face, a square with normalised
coordinates ``c in [-1, 1]^2`` (``align_corners=False``: ``-1`` and ``1`` are the outer
edges of the first and last canonical pixels), lands at image position::

    p = (cx, cy) + (s / 2) * R(theta) @ c,   R = [[cos, -sin], [sin, cos]]

so ``(cx, cy)`` is the face centre in pixels (pixel ``a`` spans ``[a, a + 1]``), ``s`` the
side of the face square in pixels and ``theta`` its rotation in radians (positive turns the
face's x axis toward +y, i.e. clockwise on screen). The axis-aligned box of a transform
(:func:`u_to_box`) is the unrotated square ``cx - s/2, cy - s/2, s, s``.

Reading a glimpse (:func:`read_glimpse`) samples the image at the transformed canonical grid
with ``affine_grid`` + ``grid_sample`` (a spatial transformer with rotation; the project's
readers in :mod:`attentrack.tracker.attention` are axis-aligned), differentiably in ``u``.
:func:`paste_face` is the forward (rendering) direction used to build synthetic scenes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: floor on the glimpse standard deviation in :func:`normalise` (intensities in [0, 1])
CONTRAST_FLOOR = 0.05


def similarity_matrix(u: torch.Tensor) -> torch.Tensor:
    """Homogeneous matrices mapping canonical coordinates to image pixels.

    Args:
        u: ``(B, 4)`` ``cx, cy, s, theta`` (pixels, pixels, pixels, radians).

    Returns:
        ``(B, 3, 3)``: ``[p; 1] = M @ [c; 1]``.
    """
    cx, cy, s, th = u.unbind(-1)
    half = s / 2
    cos, sin = torch.cos(th) * half, torch.sin(th) * half
    zero, one = torch.zeros_like(cx), torch.ones_like(cx)
    return torch.stack([torch.stack([cos, -sin, cx], -1), torch.stack([sin, cos, cy], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def inverse_similarity(u: torch.Tensor) -> torch.Tensor:
    """Homogeneous ``(B, 3, 3)`` matrices mapping image pixels back to canonical coordinates
    (the exact inverse of :func:`similarity_matrix`, in closed form)."""
    cx, cy, s, th = u.unbind(-1)
    k = 2 / s
    cos, sin = torch.cos(th) * k, torch.sin(th) * k
    zero, one = torch.zeros_like(cx), torch.ones_like(cx)
    tx = -(cos * cx + sin * cy)
    ty = -(-sin * cx + cos * cy)
    return torch.stack([torch.stack([cos, sin, tx], -1), torch.stack([-sin, cos, ty], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def grid_theta(u: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """``(B, 2, 3)`` matrices for ``affine_grid`` (canonical -> normalised image coordinates).

    Args:
        u: ``(B, 4)`` transforms.
        image_size: ``(W, H)`` of the image in pixels.
    """
    w, h = image_size
    m = similarity_matrix(u)[:, :2]  # pixels
    to_norm = u.new_tensor([[2.0 / w, 0.0, -1.0], [0.0, 2.0 / h, -1.0]])
    return torch.cat([to_norm[:, :2] @ m[:, :, :2], (to_norm[:, :2] @ m[:, :, 2:]) + to_norm[:, 2:]], dim=2)


def read_glimpse(images: torch.Tensor, u: torch.Tensor, size: int = 24) -> torch.Tensor:
    """Sample the canonical window of each transform (bilinear; zeros outside the image).

    Args:
        images: ``(B, 1, H, W)`` float images, or ``(1, 1, H, W)`` shared by every transform.
        u: ``(B, 4)`` transforms in pixels of those images.
        size: glimpse side in pixels.

    Returns:
        ``(B, size, size)`` glimpses, differentiable in ``u``.
    """
    b = u.shape[0]
    h, w = images.shape[-2:]
    if images.shape[0] == 1 and b > 1:
        images = images.expand(b, -1, -1, -1)
    grid = F.affine_grid(grid_theta(u, (w, h)), [b, 1, size, size], align_corners=False)
    # far-off, huge or non-finite windows (an HMC trajectory can fly off) would make
    # grid_sample index out of range: keep the sampling points near the image
    grid = torch.nan_to_num(grid, nan=0.0).clamp(-4.0, 4.0)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]


def normalise(glimpse: torch.Tensor, floor: float = CONTRAST_FLOOR) -> torch.Tensor:
    """Remove each glimpse's brightness and contrast: zero mean, standard deviation 1 (or less
    for glimpses flatter than ``floor``). ``(B, S, S)`` -> ``(B, S, S)``."""
    flat = glimpse.flatten(1)
    mean = flat.mean(1, keepdim=True)
    var = flat.var(1, keepdim=True, unbiased=False)
    return ((flat - mean) / torch.sqrt(var + floor**2)).view_as(glimpse)


def u_to_box(u) -> np.ndarray:
    """``(B, 4)`` transforms -> ``(B, 4)`` ``x, y, w, h`` boxes (the unrotated face square)."""
    u = np.asarray(u, dtype=np.float64).reshape(-1, 4)
    return np.stack([u[:, 0] - u[:, 2] / 2, u[:, 1] - u[:, 2] / 2, u[:, 2], u[:, 2]], 1)


def box_to_u(box) -> np.ndarray:
    """``(B, 4)`` ``x, y, w, h`` boxes -> transforms centred on them, side ``sqrt(w h)``, no rotation."""
    b = np.asarray(box, dtype=np.float64).reshape(-1, 4)
    return np.stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, np.sqrt(b[:, 2] * b[:, 3]),
                     np.zeros(len(b))], 1)


def paste_face(background: np.ndarray, face: np.ndarray, u, feather: float = 0.08) -> np.ndarray:
    """Render a canonical face into a background with transform ``u``.

    Args:
        background: ``(H, W)`` float32 grey image in ``[0, 1]``.
        face: ``(S, S)`` float32 canonical face in ``[0, 1]`` (any resolution).
        u: ``(4,)`` ``cx, cy, s, theta``.
        feather: width of the soft edge as a fraction of the face side.

    Returns:
        ``(H, W)`` float32 image: the face inside the transformed square, the background outside.
    """
    h, w = background.shape
    n = face.shape[0]
    cx, cy, s, th = (float(v) for v in np.asarray(u, np.float64).reshape(4))
    c, si = math.cos(th) * s / 2, math.sin(th) * s / 2
    m = np.array([[c, -si, cx], [si, c, cy], [0, 0, 1]])  # similarity_matrix, in numpy
    # canonical pixel index j -> c = (2j + 1)/n - 1 ; image pixel index = p - 0.5
    px_from_c = np.array([[2.0 / n, 0, 1.0 / n - 1], [0, 2.0 / n, 1.0 / n - 1], [0, 0, 1]])
    a = (np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]]) @ m @ px_from_c)[:2]
    warped = cv2.warpAffine(face.astype(np.float32), a, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    ramp = np.clip(np.minimum(np.arange(n) + 0.5, n - 0.5 - np.arange(n)) / max(feather * n, 1e-6), 0, 1)
    alpha = cv2.warpAffine(np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32), a, (w, h),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return background * (1 - alpha) + warped * alpha
