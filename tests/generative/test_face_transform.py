"""The similarity transform: identity reads the image, a placed window reads the crop,
the inverse is exact, and rendering then reading returns the face."""

from __future__ import annotations

import math

import numpy as np
import torch

from attentrack.generative.face.transform import (
    box_to_u,
    inverse_similarity,
    normalise,
    paste_face,
    read_glimpse,
    similarity_matrix,
    u_to_box,
)


def test_identity_transform_returns_the_image():
    img = torch.rand(1, 1, 24, 24)
    u = torch.tensor([[12.0, 12.0, 24.0, 0.0]])
    assert torch.allclose(read_glimpse(img, u, 24)[0], img[0, 0], atol=1e-5)


def test_window_on_pixel_grid_returns_the_crop():
    img = torch.rand(1, 1, 60, 80)
    u = torch.tensor([[17.0 + 12, 9.0 + 12, 24.0, 0.0]])
    assert torch.allclose(read_glimpse(img, u, 24)[0], img[0, 0, 9:33, 17:41], atol=1e-5)


def test_quarter_turn_rotates_the_crop():
    img = torch.rand(1, 1, 40, 40)
    u = torch.tensor([[20.0, 20.0, 24.0, math.pi / 2]])
    crop = img[0, 0, 8:32, 8:32]
    g = read_glimpse(img, u, 24)[0]
    # p = R(90) c: canonical +x points along image +y
    assert torch.allclose(g, crop.T.flip(0), atol=1e-4)


def test_inverse_is_exact():
    u = torch.tensor([[10.0, -3.0, 17.0, 0.3], [100.0, 50.0, 2.5, -1.2]], dtype=torch.float64)
    eye = similarity_matrix(u) @ inverse_similarity(u)
    assert torch.allclose(eye, torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=1e-12)
    pts = torch.tensor([[0.3, -0.7, 1.0]], dtype=torch.float64).T
    assert torch.allclose(inverse_similarity(u) @ (similarity_matrix(u) @ pts), pts.expand(2, 3, 1), atol=1e-12)


def test_box_round_trip_and_gradients():
    box = np.array([[10.0, 20.0, 30.0, 30.0]])
    assert np.allclose(u_to_box(box_to_u(box)), box)
    img = torch.rand(1, 1, 50, 50)
    u = torch.tensor([[25.0, 25.0, 20.0, 0.1]], requires_grad=True)
    normalise(read_glimpse(img, u, 12)).pow(2).sum().backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0


def test_paste_then_read_returns_the_face():
    rng = np.random.default_rng(0)
    face = rng.random((24, 24)).astype(np.float32)
    bg = np.zeros((100, 120), np.float32)
    u = np.array([60.0, 45.0, 24.0, 0.0])
    img = paste_face(bg, face, u, feather=0.0)
    g = read_glimpse(torch.from_numpy(img)[None, None], torch.tensor(u[None], dtype=torch.float32), 24)[0].numpy()
    assert np.abs(g - face).max() < 1e-4
    # rotated and scaled: the interior is recovered up to interpolation
    u2 = np.array([50.0, 55.0, 48.0, 0.4])
    smooth = np.kron(rng.random((6, 6)), np.ones((4, 4))).astype(np.float32)
    img2 = paste_face(bg, smooth, u2, feather=0.0)
    g2 = read_glimpse(torch.from_numpy(img2)[None, None], torch.tensor(u2[None], dtype=torch.float32), 24)[0].numpy()
    assert np.abs(g2 - smooth)[3:-3, 3:-3].mean() < 0.05
