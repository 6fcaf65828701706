"""Measurements of the generative models: DRAW's variational bound and alignDRAW's caption accuracy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from attentrack.generative.draw import DRAW, variational_loss


@dataclass
class BoundResult:
    """The negative variational bound on a set of binarised images.

    Attributes:
        images: how many images.
        bound: mean ``-log p(x) <=`` bound in nats (reconstruction + KL).
        reconstruction, kl: its two terms (mean nats).
        samples: posterior samples averaged per image.
    """

    images: int
    bound: float
    reconstruction: float
    kl: float
    samples: int = 1

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict."""
        return asdict(self)


@torch.no_grad()
def variational_bound(model: DRAW, images: torch.Tensor, batch: int = 500, samples: int = 1,
                      seed: int = 0) -> BoundResult:
    """Mean negative bound of ``model`` on binarised ``images`` ``(N, H, W)``."""
    model.eval()
    torch.manual_seed(seed)
    tot = rec = kl = 0.0
    for _ in range(samples):
        for i in range(0, len(images), batch):
            x = images[i:i + batch]
            terms = variational_loss(model(x), x)
            tot += float(terms.total.sum())
            rec += float(terms.reconstruction.sum())
            kl += float(terms.kl.sum())
    n = len(images) * samples
    return BoundResult(len(images), tot / n, rec / n, kl / n, samples)


@dataclass
class CaptionRow:
    """Caption accuracy of one kind of caption in one split.

    Attributes:
        kind: ``one`` or ``two`` digits; split: ``train`` (seen) or ``held_out`` compositions.
        compositions: distinct captions; images: generated images scored.
        generated: share of generated images whose captioned cell(s) the classifier reads as
            the captioned digit(s) (both, for two digits).
        generated_position: share whose most-inked cell(s) are the captioned ones.
        real: the same reading of real canvases of test digits in the same compositions
            (the classifier's ceiling); chance: 1/10 or 1/100.
    """

    kind: str
    split: str
    compositions: int
    images: int
    generated: float
    generated_position: float
    real: float
    chance: float

    def to_dict(self) -> dict:
        """The row as a JSON-ready dict."""
        return asdict(self)


def _cells(canvas: torch.Tensor, cells) -> torch.Tensor:
    from attentrack.datasets.mnist_captions import cell_slice

    return torch.stack([canvas[cell_slice(r, c)] for r, c in cells])


def read_canvases(classifier, canvases: torch.Tensor, comps) -> tuple[torch.Tensor, torch.Tensor]:
    """Read generated or real canvases at their captioned cells.

    For two digits the shared row (or column) is the one with more ink in the two cells.

    Args:
        classifier: a :class:`attentrack.generative.classifier.DigitClassifier`.
        canvases: ``(N, 60, 60)`` intensities in ``[0, 1]``.
        comps: ``N`` :class:`attentrack.datasets.mnist_captions.Composition`.

    Returns:
        ``(N,)`` bool: identity correct; ``(N,)`` bool: the ink is where the caption says.
    """
    from attentrack.datasets.mnist_captions import cell_slice

    crops, position_ok = [], []
    for canvas, comp in zip(canvases, comps):
        lines = [_cells(canvas, comp.cells(line)) for line in (0, 1)]
        best = int(torch.stack([c.sum() for c in lines]).argmax())
        crops.append(lines[best])
        all_cells = [(r, c) for r in (0, 1) for c in (0, 1)]
        ink = torch.stack([canvas[cell_slice(r, c)].sum() for r, c in all_cells])
        top = {all_cells[i] for i in ink.argsort(descending=True)[:len(comp.digits)].tolist()}
        position_ok.append(top == set(comp.cells(best)))
    flat = torch.cat(crops)
    pred = classifier.predict(flat)
    want = torch.tensor([d for c in comps for d in c.digits])
    ok = (pred == want).split([len(c.digits) for c in comps])
    return torch.stack([o.all() for o in ok]), torch.tensor(position_ok)


@torch.no_grad()
def caption_accuracy(model, classifier, test_images, test_labels, images_per_cell: int = 400,
                     seed: int = 0) -> list[CaptionRow]:
    """The caption accuracy of alignDRAW for one and two digits, seen and held-out compositions.

    Each cell of the table cycles through its compositions until ``images_per_cell`` images;
    one image is sampled from the prior per caption (seeded) and read by the classifier.
    """
    from attentrack.datasets.mnist_captions import CaptionedDigits, compositions, encode_captions

    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    real_stream = CaptionedDigits(test_images, test_labels, "all")
    rows = []
    for kind in ("one", "two"):
        for split in ("train", "held_out"):
            comps_all = compositions(kind, split)
            comps = [comps_all[i % len(comps_all)] for i in range(images_per_cell)]
            tokens, lengths = encode_captions([c.caption for c in comps])
            canv = []
            for i in range(0, len(comps), 200):
                d = model.sample(torch.from_numpy(tokens[i:i + 200]), torch.from_numpy(lengths[i:i + 200]), gen)
                canv.append(d.canvases[-1])
            ok, pos = read_canvases(classifier, torch.cat(canv), comps)
            real = torch.from_numpy(np.stack([real_stream.draw(c, rng) for c in comps]))
            real_ok, _ = read_canvases(classifier, real, comps)
            rows.append(CaptionRow(kind, split, len(comps_all), len(comps), float(ok.float().mean()),
                                   float(pos.float().mean()), float(real_ok.float().mean()),
                                   0.1 ** (1 if kind == "one" else 2)))
    return rows
