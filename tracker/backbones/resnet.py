"""A ResNet-18 trunk: the stem and the first one or two stages.

Parameter names match torchvision's ``resnet18`` (``conv1``, ``bn1``, ``layer1.0.conv1`` ...)
so a user's pretrained ``state_dict`` loads with
:meth:`~attentrack.tracker.backbones.Backbone.load_pretrained`.
"""

from __future__ import annotations

from torch import nn

from attentrack.tracker.backbones import Backbone


class BasicBlock(nn.Module):
    """The ResNet basic block: two 3x3 convolutions with a residual connection."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        """Two 3x3 convolutions plus the (downsampled) input, then ReLU."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class ResNet18Backbone(Backbone):
    """ResNet-18 stem (7x7/2 conv, 3x3/2 max-pool) and ``stages`` residual stages.

    Args:
        stages: 1 (stride 4, 64 channels) or 2 (stride 8, 128 channels).
    """

    backbone_id = "resnet18"

    def __init__(self, stages: int = 1) -> None:
        super().__init__()
        if stages not in (1, 2):
            raise ValueError(f"stages must be 1 or 2, got {stages}")
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128)) if stages == 2 else None
        self.out_channels = 64 if stages == 1 else 128
        self.stride = 4 if stages == 1 else 8

    def forward(self, x):
        """``(N, 3, G, G)`` -> ``(N, out_channels, G / stride, G / stride)``."""
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return x if self.layer2 is None else self.layer2(x)
