"""alignDRAW: the alignment over caption words, the learned prior, and learning on real captioned digits."""

import numpy as np
import pytest
import torch

from attentrack.datasets.mnist_captions import CaptionedDigits, encode_captions
from attentrack.generative.aligndraw import AlignDRAW, AlignDRAWConfig
from attentrack.generative.data import official_test_digits
from attentrack.generative.draw import variational_loss

torch.set_num_threads(1)
TINY = AlignDRAWConfig(steps=3, read_n=4, write_n=4, enc_units=32, dec_units=32, latent=8, embed=8,
                       lang_units=8, align_units=8)
CAPTIONS = ["the digit 7 is at the top right of the image", "the digit 3 is at the top"]


def _captions(caps):
    t, n = encode_captions(caps)
    return torch.from_numpy(t), torch.from_numpy(n)


def test_alignment_is_a_distribution_over_the_real_words():
    torch.manual_seed(0)
    model = AlignDRAW(TINY)
    tokens, lengths = _captions(CAPTIONS)
    caption = model.encode_caption(tokens, lengths)
    s, alpha = model.align(caption, torch.randn(2, 32))
    assert alpha.shape == (2, 11) and torch.allclose(alpha.sum(1), torch.ones(2))
    assert (alpha[1, 7:] == 0).all() and (alpha[1, :7] > 0).all()  # padding after the 7 words: no weight
    # s is the alpha-weighted sum of the word states
    assert torch.allclose(s, (alpha[..., None] * caption.words).sum(1), atol=1e-6)


def test_padding_does_not_change_a_caption():
    torch.manual_seed(0)
    model = AlignDRAW(TINY).eval()
    tokens, lengths = _captions(CAPTIONS[1:])
    padded = torch.cat([tokens, torch.zeros(1, 4, dtype=torch.long)], 1)
    a = model.sample(tokens, lengths, torch.Generator().manual_seed(1)).canvases
    b = model.sample(padded, lengths, torch.Generator().manual_seed(1)).canvases
    assert torch.allclose(a, b, atol=1e-6)


def test_learned_prior_depends_on_the_decoder_state_and_bounds_the_kl():
    torch.manual_seed(0)
    model = AlignDRAW(TINY)
    mu, logsigma = model.prior_step(torch.randn(4, 32))
    assert mu.shape == (4, 8) and (mu.abs() <= 1).all() and (logsigma.abs() <= 1).all()
    x = (torch.rand(2, 60, 60) > 0.8).float()
    out = model(x, *_captions(CAPTIONS))
    terms = variational_loss(out, x)
    assert out.prior_mu.shape == (3, 2, 8) and (terms.kl >= 0).all()


@pytest.mark.slow
def test_aligndraw_learns_on_real_captioned_digits(data_dir):
    """With the KL weight near 0 (early warm-up) the reconstruction of real captioned canvases
    falls below the mean-canvas baseline the model starts at."""
    torch.manual_seed(0)
    images, labels = official_test_digits(data_dir, 1000)
    stream = CaptionedDigits(images, labels, "train")
    rng = np.random.default_rng(0)
    model = AlignDRAW(TINY)
    model.core.init_canvas(torch.from_numpy(stream.batch(rng, 256)[0].mean(0)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    val_imgs, val_comps = stream.batch(np.random.default_rng(1), 32)
    xv = torch.from_numpy((val_imgs > 0.5).astype(np.float32))
    tv = _captions([c.caption for c in val_comps])

    def reconstruction():
        with torch.no_grad():
            torch.manual_seed(5)
            return float(variational_loss(model(xv, *tv), xv).reconstruction.mean())

    before = reconstruction()
    for _ in range(20):
        imgs, comps = stream.batch(rng, 16)
        x = torch.from_numpy((imgs > 0.5).astype(np.float32))
        loss = variational_loss(model(x, *_captions([c.caption for c in comps])), x).reconstruction.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = reconstruction()
    assert after < before - 5, (before, after)  # before: the mean canvas, ~ 478 nats
