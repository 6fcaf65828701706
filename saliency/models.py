"""CNN classifiers for saliency: torchvision-layout VGG16, ResNet-50, GoogLeNet, and a small CNN.

The three ImageNet architectures follow torchvision's module layout and ``state_dict`` key
names (``features.0.weight`` ..., ``layer1.0.conv1.weight`` ..., ``inception3a.branch1.conv.weight``
...), so a torchvision checkpoint a user has loads with :func:`load_torchvision_weights`;
torchvision itself is not needed. Weights are random otherwise (nothing is downloaded).
Their residual blocks keep torchvision's in-place ``out += identity``, which excitation
backprop handles (see :mod:`attentrack.saliency.excitation`).

:class:`SmallCNN` is the fully convolutional classifier trained here (pedestrian vs
background, digits): conv blocks, global average pooling, two linear layers. It works on
images of any size, so a frame can be classified and explained whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from attentrack.tracker.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- VGG16 (torchvision layout)

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    """VGG with torchvision's ``features`` / ``avgpool`` / ``classifier`` layout.

    Args:
        cfg: channels per conv layer, ``"M"`` for a 2x2 max pool.
        num_classes: outputs of the last linear layer.
        dropout: dropout probability in the classifier.
    """

    def __init__(self, cfg=tuple(VGG16_CFG), num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised image -> ``(B, num_classes)`` logits."""
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg16(num_classes: int = 1000) -> VGG:
    """VGG16 (configuration D), torchvision layout, random weights."""
    return VGG(VGG16_CFG, num_classes)


# ---------------------------------------------------------------- ResNet (torchvision layout)

def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convs and an identity (or projected) shortcut."""

    expansion = 1

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        """Two 3x3 convolutions plus the (downsampled) input, then ReLU."""
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet-50 block: 1x1, 3x3 (stride here, as torchvision v1.5), 1x1 convs and a shortcut."""

    expansion = 4

    def __init__(self, cin, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv1x1(cin, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        """1x1, 3x3 and 1x1 convolutions plus the (downsampled) input, then ReLU."""
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """ResNet with torchvision's layout (``conv1``, ``bn1``, ``layer1..4``, ``avgpool``, ``fc``).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. ``(3, 4, 6, 3)`` for ResNet-50.
        num_classes: outputs of ``fc``.
    """

    def __init__(self, block, layers, num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised image -> ``(B, num_classes)`` logits."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50, torchvision layout, random weights."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18, torchvision layout, random weights."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


# ---------------------------------------------------------------- GoogLeNet (torchvision layout)

class BasicConv2d(nn.Module):
    """Conv (no bias), batch norm (eps 0.001), ReLU: GoogLeNet's unit."""

    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        """Convolution, batch norm, ReLU."""
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches concatenated on channels (torchvision's, whose third branch is 3x3)."""

    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, kernel_size=1))

    def forward(self, x):
        """The four branches' outputs concatenated along the channels."""
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier (kept only so that torchvision checkpoints load; unused in eval)."""

    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1) with torchvision's layout and key names.

    Args:
        num_classes: outputs of ``fc``.
        aux_logits: build ``aux1``/``aux2`` (only to hold their checkpoint weights).
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised image -> ``(B, num_classes)`` logits (the aux heads are not run)."""
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        x = self.inception4e(self.inception4d(self.inception4c(self.inception4b(x))))
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


def googlenet(num_classes: int = 1000) -> GoogLeNet:
    """GoogLeNet, torchvision layout, random weights."""
    return GoogLeNet(num_classes)


ARCHITECTURES = {"vgg16": vgg16, "resnet50": resnet50, "resnet18": resnet18, "googlenet": googlenet}


def load_torchvision_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a torchvision checkpoint (a ``state_dict`` saved with ``torch.save``) into ``model``.

    Keys of GoogLeNet's auxiliary heads are dropped when the model has none.

    Raises:
        InputError: the file is missing, unreadable, or its keys or shapes do not match.
    """
    state = _load_state(path)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if not (k.startswith(("aux1.", "aux2.")) and k not in own)}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{path}: weights do not fit the model ({str(exc).splitlines()[0]})") from None
    return model


def _load_state(path) -> dict:
    from attentrack.tracker.weights_file import read_state_dict

    return read_state_dict(path)


# ---------------------------------------------------------------- the small classifier trained here

@dataclass
class SmallCNNConfig:
    """Architecture and input convention of a :class:`SmallCNN`.

    Attributes:
        classes: class names, one per output.
        in_channels: 3 for BGR frames, 1 for grey digits.
        widths: channels of the conv blocks; every block but the last ends in a 2x2 max pool.
        hidden: units of the hidden linear layer.
        mean, std: per-channel normalisation of the ``[0, 1]`` input.
        multilabel: trained with per-class sigmoids (several classes per image) instead of softmax.
        scale: factor applied to a frame's size before the network (pedestrians: 0.5).
    """

    classes: list[str] = field(default_factory=lambda: ["background", "pedestrian"])
    in_channels: int = 3
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 64])
    hidden: int = 64
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.25, 0.25, 0.25])
    multilabel: bool = False
    scale: float = 1.0

    def to_dict(self) -> dict:
        """The config as a JSON-ready dict (the weights file's ``config``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SmallCNNConfig":
        """A config from :meth:`to_dict`'s output; an unknown key is an :class:`InputError`."""
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown classifier config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


class SmallCNN(nn.Module):
    """Fully convolutional classifier: 3x3 conv + BN + ReLU blocks, global average pooling, MLP.

    Args:
        config: see :class:`SmallCNNConfig`.
    """

    def __init__(self, config: SmallCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config or SmallCNNConfig()
        layers: list[nn.Module] = []
        c = self.config.in_channels
        for i, w in enumerate(self.config.widths):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            if i < len(self.config.widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(c, self.config.hidden), nn.ReLU(inplace=True),
                                        nn.Linear(self.config.hidden, len(self.config.classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` normalised image -> ``(B, K)`` logits."""
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)

    def prepare(self, images, resize: bool = True) -> torch.Tensor:
        """uint8 images (``(H, W)`` grey, ``(H, W, C)`` BGR, or a list/array of them) -> normalised ``(B, C, h, w)``.

        Frames are resized by ``config.scale`` first, unless ``resize`` is False (patches cut at
        the network's scale already, as in training).
        """
        import cv2
        import numpy as np

        if isinstance(images, (list, tuple)):
            arr = list(images)
        else:
            a = np.asarray(images)
            single = a.ndim == 2 or (a.ndim == 3 and not (self.config.in_channels == 1 and a.shape[-1] != 1))
            arr = [a] if single else list(a)
        out = []
        for img in arr:
            img = np.asarray(img)
            if resize and self.config.scale != 1.0:
                img = cv2.resize(img, None, fx=self.config.scale, fy=self.config.scale, interpolation=cv2.INTER_AREA)
            if img.ndim == 2:
                img = img[..., None]
            if img.shape[-1] != self.config.in_channels:
                raise InputError(f"the classifier expects {self.config.in_channels}-channel images, got {img.shape[-1]}")
            out.append(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float() / 255.0)
        x = torch.stack(out)
        mean = torch.tensor(self.config.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.config.std).view(1, -1, 1, 1)
        return ((x - mean) / std).to(next(self.parameters()).device)


SHIPPED = {"pedestrian": "pedestrian.pt", "digits": "digits.pt"}


def weights_dir():
    """The folder of the shipped classifier weights."""
    from pathlib import Path

    return Path(__file__).resolve().parent / "weights"


def load_classifier(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> SmallCNN:
    """A :class:`SmallCNN` from a shipped name (``pedestrian``, ``digits``) or a file written by training.

    Raises:
        InputError: unknown name, missing, unreadable or broken file, or not a classifier file.
    """
    from attentrack.tracker.weights_file import load_weights

    path = weights_dir() / SHIPPED[str(name_or_path)] if str(name_or_path) in SHIPPED else name_or_path
    weights = load_weights(path, expect="saliency-classifier")
    model = weights.build(lambda config: SmallCNN(SmallCNNConfig.from_dict(config)))
    return model.to(device).eval()
