"""MOG2 proposals checked by the pedestrian classifier (``--proposals mog2-pedestrian``)."""

from __future__ import annotations

import numpy as np
import pytest

from attentrack.saliency.checked_proposals import PedestrianCheckedProposer
from attentrack.tracker.errors import InputError
from attentrack.tracker.proposals import MOG2Proposer, create_proposer


def test_proposals_on_people_pass_and_those_on_no_one_mostly_do_not(data_dir):
    """TUD-Campus (never used to train the classifier), MOG2's proposals as the runner makes them
    (primed): every proposal on a person (IoU >= 0.5 with a ground-truth box) is kept, most of
    those that touch no one (reflections, moving light, a bag) are dropped (measured: 165 of
    165 kept, 15 of 31)."""
    from attentrack.datasets.mot import read_mot
    from attentrack.tracker.boxes import iou_matrix
    from attentrack.tracker.runner import prime_detector
    from attentrack.tracker.sources import open_source

    seq = data_dir / "mot15" / "TUD-Campus"
    video = str(seq / "TUD-Campus.mp4")
    gt = read_mot(seq / "gt" / "gt.txt", min_confidence=1)
    proposer = PedestrianCheckedProposer(min_probability=0.0, device="cpu")
    assert prime_detector(proposer, open_source(video))
    on_people, on_no_one = [], []
    for index, frame in open_source(video):
        boxes, probability = proposer.propose(frame)
        people = gt.boxes[gt.frames == index + 1]
        if len(boxes) == 0 or len(people) == 0:
            continue
        best = iou_matrix(boxes, people).max(axis=1)
        on_people += list(probability[best >= 0.5])
        on_no_one += list(probability[best == 0])
    on_people, on_no_one = np.array(on_people), np.array(on_no_one)
    assert len(on_people) >= 100 and len(on_no_one) >= 20
    assert (on_people >= 0.5).mean() >= 0.95 and (on_no_one >= 0.5).mean() <= 0.5, (on_people, on_no_one)


def test_it_keeps_a_subset_of_mog2_scored_by_probability(moving_square_frames):
    moving_square_frames = moving_square_frames(n=20)
    checked, plain = PedestrianCheckedProposer(min_probability=0.0, device="cpu"), MOG2Proposer()
    for frame in moving_square_frames:
        boxes, scores = checked.propose(frame)
        expected, _ = plain.propose(frame)
        np.testing.assert_allclose(boxes, expected)  # nothing dropped at probability 0
        np.testing.assert_allclose(scores, checked.probabilities(frame, boxes))
        assert np.all((scores >= 0) & (scores <= 1))
    strict = PedestrianCheckedProposer(min_probability=1.0, device="cpu")
    for frame in moving_square_frames:
        boxes, scores = strict.propose(frame)
        assert np.all(scores >= 1.0)
    assert checked.probabilities(moving_square_frames[0], np.zeros((0, 4))).shape == (0,)


def test_registered_and_checked_options():
    assert isinstance(create_proposer("mog2-pedestrian", {"min_probability": "0.7", "device": "cpu"}),
                      PedestrianCheckedProposer)
    with pytest.raises(InputError, match="min_probability"):
        PedestrianCheckedProposer(min_probability=1.5, device="cpu")
    with pytest.raises(InputError, match="unknown class"):
        PedestrianCheckedProposer(target="cat", device="cpu")
    with pytest.raises(InputError, match="classifier of colour frames"):
        PedestrianCheckedProposer(classifier="digits", device="cpu")


def test_track_with_checked_proposals(tmp_path, clip, run_cli):
    code, out, err = run_cli(["track", clip, "-m", "hart", "--proposals", "mog2-pedestrian", "--no-video",
                              "-o", tmp_path / "t", "-q"])
    assert code == 0, err
    assert (tmp_path / "t" / "clip.txt").is_file()
