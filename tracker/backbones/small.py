"""A small from-scratch convolutional backbone (stride 4), the default."""

from __future__ import annotations

from torch import nn

from attentrack.tracker.backbones import Backbone


class SmallBackbone(Backbone):
    """Three convolutions: 5x5/2, 3x3/2, 3x3/1, each with batch norm and ELU.

    A 48x48 glimpse gives a 12x12 map (56x56 gives 14x14).

    Args:
        width: channels of the first layer; the others have twice as many.
    """

    backbone_id = "small"
    stride = 4

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = int(width)
        self.out_channels = 2 * w
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(w), nn.ELU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ELU(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ELU(inplace=True),
        )

    def forward(self, x):
        """``(N, 3, G, G)`` -> ``(N, 2 * width, G / 4, G / 4)``."""
        return self.features(x)
