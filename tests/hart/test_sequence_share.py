"""How ``train hart`` shares its real windows among the training sequences."""

import numpy as np
import pytest

from attentrack.tracker.errors import InputError
from attentrack.tracker.hart.data import SEQUENCE_SHARES, RealTracks


def _tracks(sequence_index: int, lengths: list[int]) -> list:
    return [(sequence_index, np.arange(1, n + 1), np.tile([10.0, 10.0, 20.0, 40.0], (n, 1))) for n in lengths]


def _share_of_first(real: RealTracks) -> float:
    return float(sum(w for w, t in zip(real.weights, real.tracks) if t[0] == 0))


def test_boxes_share_follows_the_labelled_boxes():
    real = RealTracks([None, None], _tracks(0, [100, 100, 100]) + _tracks(1, [20]))
    assert _share_of_first(real) == pytest.approx(300 / 320)


def test_equal_share_draws_every_sequence_equally_and_tracks_by_their_boxes():
    real = RealTracks([None, None], _tracks(0, [100, 50, 50]) + _tracks(1, [20]), share="equal")
    assert _share_of_first(real) == pytest.approx(0.5)
    assert real.weights.sum() == pytest.approx(1.0)
    assert real.weights[0] == pytest.approx(2 * real.weights[1])  # 100 boxes against 50, same sequence


def test_an_unknown_share_is_refused():
    with pytest.raises(InputError, match="sequence share 'even'"):
        RealTracks([None], _tracks(0, [10]), share="even")


def test_the_command_offers_every_share():
    from attentrack.tools.train_cmd import hart_command

    option = next(p for p in hart_command.params if p.name == "sequence_share")
    assert tuple(option.type.choices) == SEQUENCE_SHARES
