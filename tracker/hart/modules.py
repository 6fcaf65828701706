"""Building blocks of HART: ventral and dorsal streams, dynamic filters, the template
correlation branch and a zoneout LSTM (its MLPs are :class:`attentrack.tracker.layers.MLP`).

Shapes use ``N`` for objects (the batch), ``C`` for backbone channels and ``F`` for the
side of the feature map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def contrast_normalise(glimpse: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Zero mean and unit standard deviation per glimpse (over channels and pixels).

    Args:
        glimpse: ``(N, C, G, G)`` in any range (``0..255`` from the readers).
        eps: added to the std, in input units (keeps flat glimpses from exploding).
    """
    n = glimpse.shape[0]
    flat = glimpse.reshape(n, -1)
    centred = flat - flat.mean(dim=1, keepdim=True)
    # the unbiased std, computed as a sum of squares (torch.std is several times slower); the
    # floor keeps the gradient of a flat glimpse (a window off the image) finite: sqrt'(0) = inf
    var = (centred * centred).sum(dim=1, keepdim=True) / max(flat.shape[1] - 1, 1)
    std = torch.sqrt(var.clamp_min(1e-8))
    return (centred / (std + eps)).reshape_as(glimpse)


def pointwise_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution (stride 1, no groups) as one matrix product, which is several
    times faster than ``conv(x)`` on the small maps of HART.

    Args:
        conv: the ``nn.Conv2d`` with a ``(O, C, 1, 1)`` weight (and optional bias).
        x: ``(N, C, H, W)``.

    Returns:
        ``(N, O, H, W)``, equal to ``conv(x)``.
    """
    n, c, h, w = x.shape
    out = torch.matmul(conv.weight.reshape(conv.weight.shape[0], c), x.reshape(n, c, h * w))
    if conv.bias is not None:
        out = out + conv.bias.reshape(1, -1, 1)
    return out.reshape(n, -1, h, w)


#: what :class:`VentralStream`'s dropout zeroes: whole maps (``Dropout2d``) or single elements
#: (``Dropout``, as the original code's ``DropoutLayer``)
DROPOUT_MODES = ("maps", "elements")


class VentralStream(nn.Module):
    """What the object looks like: backbone features -> 1x1 conv -> dropout -> BN -> ELU.

    Args:
        in_channels: backbone channels ``C``.
        maps: output maps (5 in the paper).
        dropout: dropout probability during training.
        dropout_mode: ``"maps"`` zeroes whole maps (``nn.Dropout2d``); ``"elements"`` zeroes
            single cells of the ``(N, maps, F, F)`` output (``nn.Dropout``, as the original code).
    """

    def __init__(self, in_channels: int, maps: int = 5, dropout: float = 0.25, dropout_mode: str = "maps") -> None:
        super().__init__()
        if dropout_mode not in DROPOUT_MODES:
            raise ValueError(f"dropout_mode must be one of {DROPOUT_MODES}, got {dropout_mode!r}")
        self.conv = nn.Conv2d(in_channels, maps, 1)
        drop = nn.Dropout2d if dropout_mode == "maps" else nn.Dropout
        self.dropout = drop(dropout) if dropout > 0 else nn.Identity()
        self.bn = nn.BatchNorm2d(maps)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, C, F, F)`` -> ``(N, maps, F, F)``."""
        return F.elu(self.bn(self.dropout(pointwise_conv(self.conv, features))))

    def fold_batchnorm_(self) -> None:
        """Fold the batch norm into the 1x1 convolution (evaluation mode: dropout is off)."""
        from attentrack.tracker.backbones import fold_conv_batchnorm

        if self.training or not isinstance(self.bn, nn.BatchNorm2d):
            raise RuntimeError("fold_batchnorm_ needs an unfolded module in evaluation mode")
        self.conv = fold_conv_batchnorm(self.conv, self.bn)
        self.dropout, self.bn = nn.Identity(), nn.Identity()


class DynamicConv(nn.Module):
    """A convolution whose weights are generated per object from a vector (Jia et al. 2016).

    Args:
        cond_size: size of the conditioning vector (the previous LSTM output).
        in_channels, out_channels, kernel: the generated convolution's shape.
        hidden: units of a hidden ELU layer between the vector and the generated parameters
            (0: none, the parameters are a linear function of the vector; the original code
            has one with as many units as the vector).
    """

    def __init__(self, cond_size: int, in_channels: int, out_channels: int, kernel: int, hidden: int = 0) -> None:
        super().__init__()
        self.cin, self.cout, self.k = in_channels, out_channels, kernel
        self.hidden = nn.Sequential(nn.Linear(cond_size, hidden), nn.ELU()) if hidden > 0 else None
        self.generator = nn.Linear(hidden if hidden > 0 else cond_size,
                                   out_channels * in_channels * kernel * kernel + out_channels)
        nn.init.normal_(self.generator.weight, std=0.01)
        with torch.no_grad():  # start as a fixed random convolution (fan-in scaled)
            bound = (1.0 / (in_channels * kernel * kernel)) ** 0.5
            self.generator.bias.uniform_(-bound, bound)
            self.generator.bias[-out_channels:].zero_()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply each object's own filters.

        Args:
            x: ``(N, in_channels, F, F)``.
            cond: ``(N, cond_size)``.

        Returns:
            ``(N, out_channels, F, F)`` and the generated weights ``(N, P)`` (for weight decay).
        """
        n, _, h, w = x.shape
        params = self.generator(cond if self.hidden is None else self.hidden(cond))
        nw = self.cout * self.cin * self.k * self.k
        weight = params[:, :nw].reshape(n * self.cout, self.cin, self.k, self.k)
        bias = params[:, nw:].reshape(n * self.cout)
        if self.k == 1:  # a per-object matrix product (much faster than a grouped convolution)
            out = torch.baddbmm(bias.reshape(n, self.cout, 1), weight.reshape(n, self.cout, self.cin),
                                x.reshape(n, self.cin, h * w))
        else:
            out = F.conv2d(x.reshape(1, n * self.cin, h, w), weight, bias, padding=self.k // 2, groups=n)
        return out.reshape(n, self.cout, h, w), params


class DorsalStream(nn.Module):
    """Where the object is: an appearance-attention mask over the feature map.

    Dynamic filters (1x1, then 3x3; ``channels`` maps each) generated from the previous
    LSTM output are applied to the backbone features; a 1x1 convolution of their output
    (and of extra maps such as the template correlation, when given) is the mask logit.

    Args:
        cond_size: LSTM units.
        in_channels: backbone channels.
        channels: maps of the dynamic filters (5 in the paper).
        extra_channels: extra maps concatenated before the mask's 1x1 convolution.
        hidden: units of the filter generators' hidden ELU layer (0: none; see :class:`DynamicConv`).
    """

    def __init__(self, cond_size: int, in_channels: int, channels: int = 5, extra_channels: int = 0,
                 hidden: int = 0) -> None:
        super().__init__()
        self.dfn1 = DynamicConv(cond_size, in_channels, channels, 1, hidden)
        self.dfn2 = DynamicConv(cond_size, channels, channels, 3, hidden)
        self.mask = nn.Conv2d(channels + extra_channels, 1, 1)

    def forward(self, features: torch.Tensor, cond: torch.Tensor,
                extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the mask logit ``(N, 1, F, F)`` and the squared norm of the generated
        weights ``(N,)``."""
        d, p1 = self.dfn1(features, cond)
        d, p2 = self.dfn2(F.elu(d), cond)
        d = F.elu(d)
        if extra is not None:
            d = torch.cat([d, extra], dim=1)
        decay = (p1 * p1).sum(1) + (p2 * p2).sum(1)
        return pointwise_conv(self.mask, d), decay


def roi_features(features: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinearly resample the part of a feature map under a box (ROI-align without pooling).

    Args:
        features: ``(N, C, F, F)``.
        box: ``(N, 4)`` ``cx, cy, w, h`` in the map's ``align_corners=False`` normalised
            coordinates (the map spans ``[-1, 1]``; ``w, h`` in the same units, 2 = whole map).
        size: side of the output.

    Returns:
        ``(N, C, size, size)``.
    """
    n = features.shape[0]
    zero = torch.zeros_like(box[:, 0])
    theta = torch.stack([
        torch.stack([box[:, 2] / 2, zero, box[:, 0]], 1),
        torch.stack([zero, box[:, 3] / 2, box[:, 1]], 1),
    ], 1)
    grid = F.affine_grid(theta, [n, features.shape[1], size, size], align_corners=False)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def unit_channels(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``x / max(||x||, eps)`` over dim 1 (channels) of ``(N, C, H, W)``: ``F.normalize``,
    computed with a sum of squares (faster on small maps)."""
    return x * torch.rsqrt((x * x).sum(dim=1, keepdim=True).clamp(min=eps * eps))


#: torchvision's ImageNet normalisation (RGB channel means and standard deviations of 0..1 pixels)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def imagenet_normalise(glimpse: torch.Tensor) -> torch.Tensor:
    """BGR glimpses of 0..255 pixels to what torchvision's pretrained networks expect: RGB
    channels, ``(x / 255 - mean) / std`` with ImageNet's per-channel mean and std.

    Args:
        glimpse: ``(N, 3, G, G)`` BGR, ``0..255`` (what the glimpse readers return).

    Returns:
        ``(N, 3, G, G)`` RGB, ImageNet-normalised.
    """
    rgb = glimpse.flip(1) / 255.0
    mean = rgb.new_tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = rgb.new_tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    return (rgb - mean) / std


class TemplateCorrelation(nn.Module):
    """Correlates the first frame's object features with the current glimpse's features.

    The template is the backbone feature map of the first glimpse under the object's box,
    resampled to ``size`` x ``size`` cells. Each step, the channel-normalised template is
    cross-correlated with the channel-normalised features, channel by channel (depth-wise),
    and a 1x1 convolution turns the ``C`` response maps into ``out_channels`` maps.

    Args:
        in_channels: backbone channels ``C``.
        size: template side in feature cells (odd).
        out_channels: response maps produced.
    """

    def __init__(self, in_channels: int, size: int, out_channels: int = 4) -> None:
        super().__init__()
        self.size = int(size) | 1
        self.bn = nn.BatchNorm2d(in_channels)
        self.mix = nn.Conv2d(in_channels, out_channels, 1)

    def template(self, features: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
        """``(N, C, F, F)`` features and the object's ``(N, 4)`` box in glimpse
        coordinates (see :func:`roi_features`) -> ``(N, C, size, size)`` template."""
        return unit_channels(roi_features(features, box, self.size))

    def forward(self, features: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
        """``(N, C, F, F)`` features, ``(N, C, k, k)`` template -> ``(N, out_channels, F, F)``."""
        n, c, h, w = features.shape
        x = unit_channels(features).reshape(1, n * c, h, w)
        k = template.shape[-1]
        r = F.conv2d(x, template.reshape(n * c, 1, k, k), padding=k // 2, groups=n * c)
        r = self.bn(r.reshape(n, c, h, w))
        return F.elu(pointwise_conv(self.mix, r))

    def fold_batchnorm_(self) -> None:
        """Fold the batch norm into the 1x1 mixing convolution (evaluation mode only)."""
        if self.training or not isinstance(self.bn, nn.BatchNorm2d):
            raise RuntimeError("fold_batchnorm_ needs an unfolded module in evaluation mode")
        from attentrack.tracker.backbones import batchnorm_affine

        scale, shift = batchnorm_affine(self.bn)
        w = self.mix.weight.detach()  # (out, C, 1, 1)
        with torch.no_grad():
            self.mix.bias.add_((w[:, :, 0, 0] * shift).sum(1))
            self.mix.weight.mul_(scale.reshape(1, -1, 1, 1))
        self.bn = nn.Identity()


class ZoneoutLSTMCell(nn.Module):
    """An LSTM cell with zoneout (Krueger et al. 2017) on both the output and the cell.

    In training each unit keeps its previous value with probability ``zoneout``; in
    evaluation the update is the expectation (a ``zoneout``-weighted average).

    Args:
        input_size: input features.
        hidden_size: units.
        zoneout: keep probability of the previous state (0.05 in the paper).
    """

    def __init__(self, input_size: int, hidden_size: int, zoneout: float = 0.05) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)
        self.zoneout = float(zoneout)
        with torch.no_grad():  # forget-gate bias 1
            self.cell.bias_ih[hidden_size:2 * hidden_size].fill_(1.0)
            self.cell.bias_hh[hidden_size:2 * hidden_size].zero_()

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, input_size)``, previous ``(N, hidden)`` output and cell -> new output and cell."""
        h_new, c_new = self.cell(x, (h, c))
        z = self.zoneout
        if z <= 0:
            return h_new, c_new
        if self.training:
            keep_h = (torch.rand_like(h) < z).to(h.dtype)
            keep_c = (torch.rand_like(c) < z).to(c.dtype)
            return keep_h * h + (1 - keep_h) * h_new, keep_c * c + (1 - keep_c) * c_new
        return z * h + (1 - z) * h_new, z * c + (1 - z) * c_new
