"""The digit classifier that reads generated canvases (alignDRAW's caption accuracy).

A small convnet on 32 x 32 cells (the cell size of :mod:`attentrack.datasets.mnist_captions`), trained
on real MNIST training digits placed at a random 0-4 pixel offset in the cell, as on the
captioned canvases. Inputs are intensities in ``[0, 1]`` (grey, not binarised), so it reads
the mean images ``sigmoid(c_T)`` of the generators.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attentrack.datasets.mnist_captions import CELL, JITTER
from attentrack.generative.registry import ConfigDict, GenerativeModel
from attentrack.generative.train import Task


@dataclass
class ClassifierConfig(ConfigDict):
    """Attributes: channels of the two conv layers, hidden units of the fully connected layer."""

    channels1: int = 16
    channels2: int = 32
    hidden: int = 64


class DigitClassifier(GenerativeModel, model_id="digit-classifier"):
    """conv3x3-relu-pool, conv3x3-relu-pool, fc-relu, fc -> 10 logits."""

    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ClassifierConfig()
        self.conv1 = nn.Conv2d(1, c.channels1, 3, padding=1)
        self.conv2 = nn.Conv2d(c.channels1, c.channels2, 3, padding=1)
        self.fc1 = nn.Linear(c.channels2 * (CELL // 4) ** 2, c.hidden)
        self.fc2 = nn.Linear(c.hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, 32, 32)`` intensities in ``[0, 1]`` -> ``(B, 10)`` logits."""
        h = F.max_pool2d(F.relu(self.conv1(x[:, None])), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return self.fc2(F.relu(self.fc1(h.flatten(1))))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
        """``(B,)`` predicted digits of ``(B, 32, 32)`` cells."""
        self.eval()
        return torch.cat([self(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def place_in_cells(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Put ``(N, 28, 28)`` digits into ``(N, 32, 32)`` cells at ``(N, 2)`` ``(dy, dx)`` offsets."""
    out = np.zeros((len(images), CELL, CELL), np.float32)
    for i, (img, (dy, dx)) in enumerate(zip(images, offsets)):
        out[i, dy:dy + 28, dx:dx + 28] = img
    return out


def classifier_task(config: ClassifierConfig, root: str | os.PathLike | None = None) -> Task:
    """The classifier on the 5k training digits at random offsets; validated on all 10k test
    digits placed at random offsets (fixed seed)."""
    from attentrack.generative.data import official_test_digits, training_digits

    train_x, train_y = training_digits(root)
    test_x, test_y = official_test_digits(root)
    val_x = torch.from_numpy(place_in_cells(test_x, np.random.default_rng(1).integers(0, JITTER + 1, (len(test_x), 2))))
    val_y = torch.from_numpy(test_y)

    def batch(rng, n):
        idx = rng.integers(0, len(train_x), n)
        x = place_in_cells(train_x[idx], rng.integers(0, JITTER + 1, (n, 2)))
        return torch.from_numpy(x), torch.from_numpy(train_y[idx])

    def loss(model, b, step):
        x, y = b
        logits = model(x)
        ce = F.cross_entropy(logits, y)
        return ce, {"ce": float(ce.detach()), "acc": float((logits.argmax(1) == y).float().mean())}

    def validate(model):
        return {"acc": float((model.predict(val_x) == val_y).float().mean())}

    return Task(DigitClassifier(config), batch, loss, validate,
                describe=f"mnist_5k.csv.gz ({len(train_x)} digits) at random 0-{JITTER} px offsets in {CELL}x{CELL} cells")
