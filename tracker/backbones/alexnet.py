"""AlexNet conv1-3 without max-pooling: HART's feature extractor.

Layer shapes follow torchvision's ``alexnet`` (64, 192 and 384 channels), and parameter
names match its ``features.0``, ``features.3`` and ``features.6`` so that a user's
pretrained ``state_dict`` loads with :meth:`~attentrack.tracker.backbones.Backbone.load_pretrained`.
Conv1 uses padding 5 (instead of 2) so a 56x56 glimpse gives the paper's 14x14 maps.
"""

from __future__ import annotations

from torch import nn

from attentrack.tracker.backbones import Backbone


class AlexNetBackbone(Backbone):
    """AlexNet conv1 (11x11/4), conv2 (5x5), conv3 (3x3) with ReLU and no pooling."""

    backbone_id = "alexnet"
    stride = 4
    out_channels = 384

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=5), nn.ReLU(inplace=True),
            nn.Identity(), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True),
            nn.Identity(), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        )

    def forward(self, x):
        """``(N, 3, G, G)`` -> ``(N, 384, ceil(G / 4), ceil(G / 4))``."""
        return self.features(x)
