"""torchvision's AlexNet conv1-3 without max-pooling.

This is not the network of the HART paper. Like the original code it stops after conv3 and
drops the max-pooling (stride 4 in all), but its layers are torchvision's ``alexnet``: 64, 192
and 384 channels, no local response normalisation and no grouped convolutions, where the
paper's (the Caffe ``bvlc_alexnet`` weights) has 96, 256 and 384 channels, a local response
normalisation after conv1 and conv2, and conv2 in two groups. Parameter names match
torchvision's ``features.0``, ``features.3`` and ``features.6`` so that its pretrained
``state_dict`` loads with :meth:`~attentrack.tracker.backbones.Backbone.load_pretrained`;
those weights expect RGB input normalised with ImageNet's mean and std, which HART gives them
with ``glimpse_norm="imagenet"`` (``train hart --backbone-weights`` sets it). Conv1 uses
padding 5 (instead of 2) so a 56x56 glimpse gives 14x14 maps, as in the paper.
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
