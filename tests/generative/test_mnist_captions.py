"""MNIST with captions: compositions, held-out splits, layout and the caption vocabulary."""

import numpy as np
import pytest

from attentrack.datasets.mnist_captions import (
    CANVAS,
    HELD_OUT_PAIRS,
    HELD_OUT_SINGLE,
    VOCAB,
    CaptionedDigits,
    Composition,
    cell_slice,
    compositions,
    encode_captions,
    render,
    tokenize,
)
from attentrack.tracker.errors import InputError


def test_splits_partition_the_compositions():
    for kind, n in (("one", 40), ("two", 400)):
        train, held = compositions(kind, "train"), compositions(kind, "held_out")
        assert len(train) + len(held) == n and not set(train) & set(held)
    assert len(compositions("one", "held_out")) == len(HELD_OUT_SINGLE)
    assert len(compositions("two", "held_out")) == 4 * len(HELD_OUT_PAIRS)
    # every digit and every position still appears in training
    train = compositions("all", "train")
    assert {d for c in train for d in c.digits} == set(range(10))
    assert {c.position for c in train} == {c.position for c in compositions("all", "all")}


def test_captions_read_as_specified():
    assert Composition((7,), "bottom left").caption == "the digit 7 is at the bottom left of the image"
    assert Composition((3, 5), "on the left of").caption == "the digit 3 is on the left of the digit 5"


def test_training_stream_never_shows_held_out_compositions():
    rng = np.random.default_rng(0)
    images = rng.random((30, 28, 28)).astype(np.float32)
    labels = np.arange(30) % 10
    stream = CaptionedDigits(images, labels, "train")
    comps = [stream.sample_composition(rng) for _ in range(3000)]
    assert not any(c.held_out for c in comps)
    assert {len(c.digits) for c in comps} == {1, 2}


def test_digits_land_in_their_cells():
    rng = np.random.default_rng(1)
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 10:18] = 1.0
    for comp in (Composition((1,), "bottom right"), Composition((1, 2), "at the top of"),
                 Composition((1, 2), "on the right of")):
        for line in (0, 1):
            canvas = render(comp, [digit] * len(comp.digits), rng, line=line)
            assert canvas.shape == (CANVAS, CANVAS)
            inside = sum(canvas[cell_slice(r, c)].sum() for r, c in comp.cells(line))
            assert inside == pytest.approx(canvas.sum() * len(comp.digits) / len(comp.digits))
            ys, xs = np.nonzero(canvas)
            for r, c in comp.cells(line):
                sy, sx = cell_slice(r, c)
                assert ((ys >= sy.start) & (ys < sy.stop) & (xs >= sx.start) & (xs < sx.stop)).any()


def test_left_of_puts_the_first_digit_on_the_left():
    comp = Composition((3, 5), "on the left of")
    (r1, c1), (r2, c2) = comp.cells(1)
    assert r1 == r2 == 1 and c1 == 0 and c2 == 1
    comp = Composition((3, 5), "at the bottom of")
    (r1, c1), (r2, c2) = comp.cells(0)
    assert c1 == c2 == 0 and r1 == 1 and r2 == 0


def test_tokenizer_accepts_number_words_and_rejects_bad_captions():
    assert tokenize("The digit SEVEN is at the top right of the image.") == tokenize(
        "the digit 7 is at the top right of the image")
    with pytest.raises(InputError, match="vocabulary: the digit 0 1"):
        tokenize("the digit 7 is in the garden")
    with pytest.raises(InputError, match="empty caption"):
        tokenize("  ")
    with pytest.raises(InputError):
        tokenize("<pad>")
    tokens, lengths = encode_captions(["the digit 1 is at the top left of the image", "the digit 1 is at the top"])
    assert tokens.shape == (2, 11) and lengths.tolist() == [11, 7] and (tokens[1, 7:] == 0).all()
    assert VOCAB[tokens[0, 2]] == "1"
