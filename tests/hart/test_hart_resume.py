"""Training is resumable: 2 steps + resume for 2 more gives the same weights as 4 steps."""

import torch

from attentrack.tracker.hart.train import TrainOptions, train


def _opts(seq, out, **kw):
    return TrainOptions(data=[str(seq)], out=str(out), assets="none", steps=4, tokens=8, min_length=4, max_length=4,
                        workers=0, threads=1, val_every=0, val_split=0.0, progress=False,
                        config={"glimpse_size": 16, "backbone_width": 4, "rnn_units": 16}, **kw)


def test_resume_matches_an_uninterrupted_run(tmp_path, fake_mot_sequence):
    seq = fake_mot_sequence
    straight = train(_opts(seq, tmp_path / "a"))
    assert straight["steps"] == 4
    first = train(_opts(seq, tmp_path / "b", stop_after=2))
    assert first["steps"] == 2
    second = train(_opts(seq, tmp_path / "b", resume=True))
    assert second["steps"] == 4
    a = torch.load(tmp_path / "a" / "hart.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "hart.pt", weights_only=True)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)
