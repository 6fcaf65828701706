"""Spatial attention: glimpse readers, one registry.

A glimpse reader turns an attention window into a fixed-size glimpse::

    reader = create_glimpse_reader("gaussian", size=48)
    pyramid = ImagePyramid.from_numpy(frame, reader.levels_needed(window, size))
    glimpse = reader(pyramid, window)          # (N, 3, 48, 48) float, 0..255

Windows are ``(N, 4)`` ``cx, cy, w, h`` (centre and size) in pixels of the full-resolution
frame. Readers work on an :class:`ImagePyramid` (the frame halved repeatedly): each
window is read at the level where its stride (window size / glimpse size) is between 1
and 2 pixels, from a crop of the pixels under the read's support, so the cost of a read
does not grow with the window. Only the crops are converted to float; the frame stays
``uint8``. Windows of all objects are read in one batch (one gather per pyramid level).

Adding a reader is one class: subclass :class:`GlimpseReader`, set ``reader_id`` and
implement :meth:`GlimpseReader.read_crop` (and, optionally, the same in NumPy as
:meth:`GlimpseReader.read_crop_numpy`, which trackers use on the CPU: fewer, cheaper calls).

Built-in readers: ``gaussian`` (:mod:`attentrack.tracker.attention.filterbank`, HART's read) and
``stn`` (bilinear spatial transformer, :mod:`attentrack.tracker.attention.spatial_transformer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch
from torch import nn

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import GLIMPSE_READERS

#: the coarsest pyramid level keeps at least this many pixels on its short side
MIN_LEVEL_SIDE = 8


@dataclass
class ImagePyramid:
    """Images halved repeatedly (level 0 = full resolution).

    The pyramid may cover only a region of the frames (see ``region`` in
    :meth:`from_numpy`): windows are always given in frame pixels and ``origin`` says
    where level 0 starts.

    Attributes:
        levels: ``levels[l]`` is ``(B, H_l, W_l, C)`` channels-last (``uint8`` or float)
            with ``H_l = H // 2**l``, or ``None`` for a level that was not built (see
            ``only`` in :meth:`from_numpy`).
        size: ``(W, H)`` of level 0 in pixels.
        origin: ``(x, y)`` frame pixel of level 0's first pixel.
        frame_size: ``(W, H)`` of the whole frames (``size`` unless a region was cut).
    """

    levels: list[torch.Tensor | None]
    size: tuple[int, int]
    origin: tuple[int, int] = (0, 0)
    frame_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.frame_size is None:
            self.frame_size = self.size

    @property
    def max_level(self) -> int:
        """The index of the coarsest level."""
        return len(self.levels) - 1

    def scale(self, level: int) -> tuple[float, float]:
        """``(sx, sy)``: level-``level`` pixels per level-0 pixel."""
        w, h = self.level_size(self.size, level)
        return w / self.size[0], h / self.size[1]

    @staticmethod
    def level_size(size: tuple[int, int], level: int) -> tuple[int, int]:
        """``(W_l, H_l)`` of level ``level`` of an image of ``size`` ``(W, H)`` (halved ``level``
        times, rounding down, at least 1)."""
        return max(1, size[0] >> level), max(1, size[1] >> level)

    @staticmethod
    def max_levels_for(size: tuple[int, int]) -> int:
        """The coarsest level index an image of ``size`` ``(W, H)`` can have."""
        short = min(size)
        lv = 0
        while short // 2 >= MIN_LEVEL_SIDE:
            short //= 2
            lv += 1
        return lv

    @classmethod
    def from_numpy(cls, images: np.ndarray, max_level: int | None = None,
                   device: torch.device | str | None = None,
                   region: tuple[int, int, int, int] | None = None,
                   only: set[int] | None = None) -> "ImagePyramid":
        """Build a pyramid with OpenCV's area resampling.

        Args:
            images: ``(H, W, C)`` or ``(B, H, W, C)`` ``uint8`` (kept ``uint8``).
            max_level: coarsest level to build (default: as many as fit, see
                :data:`MIN_LEVEL_SIDE`).
            device: where the level tensors go (default CPU).
            region: ``(x0, y0, x1, y1)`` frame pixels: build the pyramid of this part only
                (clipped to the frame; cheaper when the windows cover a small part).
            only: keep just these levels (the others are ``None``: not converted to
                tensors nor moved to ``device``); every level is still made from the one
                before it, as without ``only``, so the kept levels are identical.
        """
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[1] < 1 or arr.shape[2] < 1:
            raise InputError(f"images must be (B, H, W, C), got shape {arr.shape}")
        frame_size = (arr.shape[2], arr.shape[1])
        origin = (0, 0)
        if region is not None:
            x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
            x1, y1 = min(frame_size[0], int(region[2])), min(frame_size[1], int(region[3]))
            if x1 - x0 >= 2 and y1 - y0 >= 2 and (x1 - x0, y1 - y0) != frame_size:
                arr = arr[:, y0:y1, x0:x1]
                origin = (x0, y0)
        b, h, w, c = arr.shape
        top = cls.max_levels_for((w, h))
        max_level = top if max_level is None else max(0, min(int(max_level), top))
        if only is not None:  # readers clamp their levels to the coarsest one built
            only = {min(max(int(lv), 0), max_level) for lv in only}
        def halve(prev: np.ndarray, level: int) -> np.ndarray:
            size = cls.level_size((w, h), level)
            nxt = np.stack([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in prev])
            return nxt[..., None] if nxt.ndim == 3 else nxt  # one channel: cv2 drops it

        levels: list[np.ndarray | None] = [arr]
        previous = arr
        for lv in range(1, max_level + 1):  # halving level by level is cheaper than one big step
            previous = halve(previous, lv)
            levels.append(previous if only is None or lv in only else None)
        on_device = device is not None and torch.device(device).type != "cpu"
        tensors = [None if lv is None else torch.from_numpy(np.ascontiguousarray(lv)) for lv in levels]
        if on_device:
            tensors = [None if t is None else t.to(device) for t in tensors]
        return cls(tensors, (w, h), origin, frame_size)

    @classmethod
    def from_levels(cls, levels: list[torch.Tensor]) -> "ImagePyramid":
        """Wrap already built levels (``(B, H_l, W_l, C)`` each)."""
        return cls(list(levels), (int(levels[0].shape[2]), int(levels[0].shape[1])))

    def select(self, index: torch.Tensor) -> "ImagePyramid":
        """The pyramid of images ``index`` (a view when possible)."""
        return ImagePyramid([None if lv is None else lv[index] for lv in self.levels], self.size, self.origin,
                            self.frame_size)


class GlimpseReader(nn.Module):
    """Base class of glimpse readers; subclasses with a ``reader_id`` register themselves.

    Args:
        size: glimpse side in pixels (glimpses are ``size`` x ``size``).
    """

    reader_id: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        GLIMPSE_READERS.register_subclass(cls)

    def __init__(self, size: int = 48) -> None:
        super().__init__()
        if int(size) < 2:
            raise InputError(f"glimpse size must be at least 2 pixels, got {size}")
        self.size = int(size)
        self._region_margin: float | None = None

    # -- to implement ---------------------------------------------------------------------
    def margin(self, stride: np.ndarray) -> np.ndarray:
        """Extra pixels needed on each side of the window (level pixels): ``(n, 2)`` float32
        strides (level pixels between glimpse pixels) -> ``(n, 2)``."""
        return np.ones_like(stride)

    def read_crop(self, crop: torch.Tensor, origin: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Read glimpses from crops.

        Args:
            crop: ``(n, Hc, Wc, C)`` float, channels-last.
            origin: ``(n, 2)`` level-pixel ``x, y`` of the crop's top-left pixel index.
            window: ``(n, 4)`` ``cx, cy, w, h`` in level pixels (continuous frame where
                pixel ``a`` spans ``[a, a + 1]``).

        Returns:
            ``(n, C, size, size)``.
        """
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------------
    def levels_for(self, window: torch.Tensor, max_level: int) -> torch.Tensor:
        """``(N,)`` pyramid level each window is read at (the geometric-mean stride lands in
        ``[1, 2)`` pixels, or the coarsest level)."""
        return torch.from_numpy(self._levels(self._as_windows(window), max_level)).to(window.device)

    def _levels(self, window: np.ndarray, max_level: int) -> np.ndarray:
        """:meth:`levels_for` on a ``(N, 4)`` float32 NumPy array (no torch calls)."""
        stride = window[:, 2:4] / np.float32(self.size)
        mean = np.sqrt(np.maximum(stride[:, 0] * stride[:, 1], np.float32(1.0)))
        return np.clip(np.floor(np.log2(mean)), 0, max_level).astype(np.int64)

    @staticmethod
    def _as_windows(window: torch.Tensor | np.ndarray) -> np.ndarray:
        """Windows as a ``(N, 4)`` float32 NumPy array."""
        w = window.detach().float().cpu().numpy() if torch.is_tensor(window) else np.asarray(window, np.float32)
        return w.reshape(-1, 4).astype(np.float32, copy=False)

    def levels_needed(self, window: torch.Tensor | np.ndarray, size: tuple[int, int]) -> int:
        """The coarsest level any of ``window`` needs, for building a pyramid of ``size``."""
        w = self._as_windows(window)
        if len(w) == 0:
            return 0
        return int(self._levels(w, ImagePyramid.max_levels_for(size)).max())

    def region_needed(self, window: torch.Tensor, size: tuple[int, int]) -> tuple[int, tuple[int, int, int, int]]:
        """The coarsest level and the frame region ``(x0, y0, x1, y1)`` that reading
        ``window`` (``(N, 4)`` frame pixels) from a frame of ``size`` needs; the region is
        aligned to the coarsest level's pixel grid."""
        level = self.levels_needed(window, size)
        return level, self._region(self._as_windows(window), level, size)

    def pyramid_for(self, images: np.ndarray, window: torch.Tensor | np.ndarray,
                    device: torch.device | str | None = None) -> ImagePyramid:
        """The pyramid that reading ``window`` from ``images`` needs, and no more: the region
        of :meth:`region_needed`, holding only the levels the windows are read at.

        Args:
            images: ``(H, W, C)`` or ``(B, H, W, C)`` ``uint8``.
            window: ``(N, 4)`` ``cx, cy, w, h`` frame pixels (``N >= 1``).
            device: where the level tensors go.
        """
        arr = np.asarray(images)
        size = (arr.shape[-2], arr.shape[-3])
        win = self._as_windows(window)
        levels = self._levels(win, ImagePyramid.max_levels_for(size))
        level = int(levels.max()) if len(levels) else 0
        return ImagePyramid.from_numpy(arr, level, device=device, region=self._region(win, level, size),
                                       only=set(levels.tolist()))

    def _region(self, window: np.ndarray, level: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """:meth:`region_needed`'s region for ``(N, 4)`` NumPy windows read at levels up to ``level``."""
        cell = 2 ** level
        if self._region_margin is None:  # the reader's margin at the largest stride of a level
            self._region_margin = float(self.margin(np.full((1, 2), 2.0, np.float32)).max()) + 2.0
        win = window.astype(np.float64)
        half = win[:, 2:4] / 2
        pad = self._region_margin * cell + float(win[:, 2:4].max()) / self.size
        x0, y0 = (win[:, 0:2] - half).min(axis=0) - pad
        x1, y1 = (win[:, 0:2] + half).max(axis=0) + pad
        x0, y0 = int(np.floor(max(0.0, x0) / cell)) * cell, int(np.floor(max(0.0, y0) / cell)) * cell
        x1, y1 = int(np.ceil(min(size[0], x1) / cell)) * cell, int(np.ceil(min(size[1], y1) / cell)) * cell
        return x0, y0, max(x1, x0 + cell), max(y1, y0 + cell)

    def _crop_plan(self, pyramid: ImagePyramid, win_np: np.ndarray):
        """The crops that reading ``(N, 4)`` float32 frame-pixel windows needs, one group per
        pyramid level: yields ``(sel, level, win_lv, lo, (ws, hs))`` with ``sel`` the
        windows' indices (``None``: all of them), ``win_lv`` ``(n, 4)`` the windows in level
        pixels, ``lo`` ``(n, 2)`` int64 each crop's top-left level pixel and ``(ws, hs)`` the
        common crop size. NumPy only (no torch calls: far cheaper per call)."""
        levels = self._levels(win_np, pyramid.max_level)
        origin = np.array([pyramid.origin[0], pyramid.origin[1], 0.0, 0.0], np.float32)
        for lv in np.unique(levels).tolist():
            on_level = levels == lv
            sel = None if on_level.all() else np.flatnonzero(on_level)
            sx, sy = pyramid.scale(lv)
            win_lv = ((win_np if sel is None else win_np[sel]) - origin) * np.array([sx, sy, sx, sy], np.float32)
            margin = self.margin(win_lv[:, 2:4] / np.float32(self.size))
            half = win_lv[:, 2:4] / 2 + margin
            lo = np.floor(win_lv[:, 0:2] - half).astype(np.int64)
            hi = np.ceil(win_lv[:, 0:2] + half).astype(np.int64)
            ws, hs = (hi - lo + 1).max(axis=0).tolist()
            yield sel, lv, win_lv, lo, (ws, hs)

    def forward(self, pyramid: ImagePyramid, window: torch.Tensor,
                index: torch.Tensor | None = None) -> torch.Tensor:
        """Read one glimpse per window.

        Args:
            pyramid: the images; ``pyramid.levels[l]`` is ``(B, H_l, W_l, C)``.
            window: ``(N, 4)`` ``cx, cy, w, h`` in level-0 pixels.
            index: ``(N,)`` int, the image of each window (default: window ``i`` reads
                image ``i`` when ``B == N``, else image 0).

        Returns:
            ``(N, C, size, size)`` float32 glimpses in the images' value range.
        """
        n = window.shape[0]
        first = pyramid.levels[0]
        device = first.device
        c = first.shape[3]
        if index is None:
            index = torch.arange(n, device=device) if first.shape[0] == n else torch.zeros(n, dtype=torch.long, device=device)
        if n == 0:
            return window.new_zeros((n, c, self.size, self.size))
        window = window.float()
        # the geometry of the crops needs no gradients: NumPy (far fewer calls than torch)
        origin = window.new_tensor([pyramid.origin[0], pyramid.origin[1], 0.0, 0.0])
        parts = []
        for sel_np, lv, win_lv, lo_np, (ws, hs) in self._crop_plan(pyramid, window.detach().cpu().numpy()):
            sx, sy = pyramid.scale(lv)
            sel = None if sel_np is None else torch.from_numpy(sel_np).to(device)
            win = window if sel is None else window[sel]
            win = (win - origin) * window.new_tensor([sx, sy, sx, sy])  # level pixels (with gradients)
            b = index if sel is None else index[sel]
            lo = torch.from_numpy(lo_np).to(device)
            crop = gather_crops(pyramid.levels[lv], b, lo, ws, hs).float()  # (n, hs, ws, C)
            parts.append((sel, self.read_crop(crop, lo.to(win.dtype), win)))
        if len(parts) == 1 and parts[0][0] is None:
            return parts[0][1]
        out = window.new_zeros((n, c, self.size, self.size))
        for sel, g in parts:
            out = out.index_copy(0, sel, g)
        return out

    def read_crop_numpy(self, crop: np.ndarray, origin: np.ndarray, window: np.ndarray) -> np.ndarray | None:
        """:meth:`read_crop` in NumPy (``float32`` arrays in and out), for fast inference on
        the CPU; ``None`` when the reader has no NumPy implementation."""
        return None

    def read_numpy(self, pyramid: ImagePyramid, window: np.ndarray) -> np.ndarray | None:
        """:meth:`forward` without gradients, for one image on the CPU, in NumPy: a few
        array calls instead of dozens of tensor operations (the read dominates a tracking
        step with few objects).

        Args:
            pyramid: one image (``B == 1``) with CPU levels.
            window: ``(N, 4)`` float32 ``cx, cy, w, h`` in level-0 pixels.

        Returns:
            ``(N, C, size, size)`` float32 glimpses (equal to :meth:`forward`'s to float
            rounding), or ``None`` when this reader or this pyramid has no NumPy path.
        """
        first = pyramid.levels[0]
        if first is None or first.device.type != "cpu" or first.shape[0] != 1 or first.shape[3] > 4:
            return None
        win_np = np.asarray(window, np.float32).reshape(-1, 4)
        n, c = len(win_np), first.shape[3]
        out = None
        zeros = np.zeros(n, np.int64)
        for sel, lv, win_lv, lo, (ws, hs) in self._crop_plan(pyramid, win_np):
            crop = gather_crops(pyramid.levels[lv], torch.from_numpy(zeros[: len(lo)]), torch.from_numpy(lo), ws, hs)
            g = self.read_crop_numpy(crop.numpy().astype(np.float32), lo.astype(np.float32), win_lv)
            if g is None:
                return None
            if sel is None:
                return g
            if out is None:
                out = np.zeros((n, c, self.size, self.size), np.float32)
            out[sel] = g
        return out


def _span(start: int, size: int, length: int) -> tuple[int, int, int, int]:
    """The part of ``[start, start + size)`` inside ``[0, length)`` (at least one pixel, the
    nearest, when none is) and how many border copies go before and after it."""
    first = min(max(start, 0), length - 1)
    stop = max(min(start + size, length), first + 1)
    before = min(max(first - start, 0), size - (stop - first))
    return first, stop, before, size - (stop - first) - before


def gather_crops(images: torch.Tensor, index: torch.Tensor, top_left: torch.Tensor,
                 width: int, height: int) -> torch.Tensor:
    """Cut equally sized crops out of images, repeating the border pixels outside them.

    Args:
        images: ``(B, H, W, C)`` channels-last.
        index: ``(n,)`` int, the image of each crop.
        top_left: ``(n, 2)`` int, ``x, y`` pixel index of each crop's first pixel (may lie
            outside the image).
        width: crop width in pixels.
        height: crop height in pixels.

    Returns:
        ``(n, height, width, C)``, same dtype and device as ``images``: pixel ``(r, c)`` of
        crop ``i`` is image pixel ``(y_i + r, x_i + c)`` with both indices clamped to the
        image. On the CPU each crop is a slice plus OpenCV's border replication; elsewhere
        (or when the images need gradients) a gather of clamped indices.
    """
    h_img, w_img, channels = images.shape[1], images.shape[2], images.shape[3]
    n = len(index)
    if images.device.type == "cpu" and not images.requires_grad and channels <= 4 \
            and images.dtype in (torch.uint8, torch.float32):
        arr = images.numpy()
        out = np.empty((n, height, width, channels), dtype=arr.dtype)
        for i, (b, (x, y)) in enumerate(zip(index.tolist(), top_left.tolist())):
            x0, x1, left, right = _span(x, width, w_img)
            y0, y1, top, bottom = _span(y, height, h_img)
            part = arr[b, y0:y1, x0:x1]
            if left or right or top or bottom:
                part = cv2.copyMakeBorder(part, top, bottom, left, right, cv2.BORDER_REPLICATE)
            out[i] = part.reshape(height, width, channels)
        return torch.from_numpy(out)
    device = images.device
    cols = (top_left[:, 0:1].to(device) + torch.arange(width, device=device)).clamp(0, w_img - 1)
    rows = (top_left[:, 1:2].to(device) + torch.arange(height, device=device)).clamp(0, h_img - 1)
    b = index.to(device)
    return images[b[:, None, None], rows[:, :, None], cols[:, None, :]]


def create_glimpse_reader(name: str, size: int = 48) -> GlimpseReader:
    """Build a registered glimpse reader (``gaussian``, ``stn``, ...)."""
    return GLIMPSE_READERS.get(name)(size=size)


def available_glimpse_readers() -> list[str]:
    """Names of the registered glimpse readers (imports none of them)."""
    return GLIMPSE_READERS.names()

