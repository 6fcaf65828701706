"""HART learns on real data at small scale: a few dozen steps on TUD-Stadtmitte tracks."""

import numpy as np
import pytest
import torch

from attentrack.tracker.hart.data import RealTracks, make_batch
from attentrack.tracker.hart.losses import HARTLoss, cxcywh_iou
from attentrack.tracker.hart.model import HART, HARTConfig

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_loss_falls_and_beats_static_on_real_tracks(data_dir):
    from attentrack.datasets.sequence import open_sequence

    torch.set_num_threads(2)
    torch.manual_seed(0)
    seq = open_sequence(data_dir / "mot15" / "TUD-Stadtmitte")
    rng = np.random.default_rng(0)
    tracks = RealTracks([seq])
    batch = make_batch([tracks.sample(rng, 6, max_step=3) for _ in range(8)])
    model = HART(HARTConfig(glimpse_size=24, backbone_width=8, rnn_units=32, dropout=0.0, zoneout=0.0))
    loss_fn = HARTLoss(l2=0.0)
    opt = torch.optim.Adam(list(model.parameters()) + list(loss_fn.parameters()), lr=3e-3)
    losses = []
    for _ in range(40):
        terms = loss_fn(model(batch.levels, batch.boxes[:, 0]), batch.boxes)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
        losses.append(terms.box.item())
    model.eval()
    with torch.no_grad():
        pred = model(batch.levels, batch.boxes[:, 0])["box"]
    iou = float(cxcywh_iou(pred[:, 1:], batch.boxes[:, 1:]).mean())
    static = float(cxcywh_iou(batch.boxes[:, :1].expand_as(batch.boxes[:, 1:]), batch.boxes[:, 1:]).mean())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert iou > static + 0.05, (iou, static)
