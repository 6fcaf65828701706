"""The face model: the VAE learns held-out faces on real ORL data, the closed-form marginal
equals the Gaussian it stands for, the background Gaussian is fitted exactly, and the
log-joint prefers the true face window; the shipped weights load ``weights_only``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attentrack.datasets.orl import load_orl, split_people
from attentrack.generative.face.model import (
    SHIPPED_WEIGHTS,
    BackgroundModel,
    FaceConfig,
    FaceVAE,
    load_face_model,
    log_joint,
    vae_elbo,
)
from attentrack.generative.face.train import ORL_CANONICAL_U, orl_glimpses, vae_batch
from attentrack.generative.face.transform import normalise, read_glimpse
from attentrack.tracker.errors import InputError


def test_vae_learns_held_out_faces(data_dir, one_thread):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    faces = load_orl(data_dir / "faces" / "orl")
    train, test = split_people(10)
    held = faces.subset(test[:5])
    val = orl_glimpses(held.images, np.tile(np.asarray(ORL_CANONICAL_U), (len(held), 1)), 24)
    vae = FaceVAE(FaceConfig())
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)

    def held_out_elbo():
        torch.manual_seed(1)
        with torch.no_grad():
            return float(vae_elbo(vae, val).elbo)

    before = held_out_elbo()
    tr = faces.subset(train)
    for _ in range(60):
        loss = -vae_elbo(vae, vae_batch(rng, tr, 16, 24)).elbo
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = held_out_elbo()
    assert after > before + 100, (before, after)  # nats per face, on people never seen


def test_marginal_likelihood_is_the_linear_gaussian():
    torch.manual_seed(0)
    vae = FaceVAE(FaceConfig(size=6, latents=3))
    v = torch.randn(5, 6, 6)
    w, b = vae.decoder[0].weight, vae.decoder[0].bias
    cov = w @ w.T + torch.exp(2 * vae.log_sigma) * torch.eye(36)
    ref = torch.distributions.MultivariateNormal(b, covariance_matrix=cov).log_prob(v.flatten(1))
    assert torch.allclose(vae.marginal_log_likelihood(v), ref, atol=1e-3)
    # posterior mean maximises the joint: its gradient there is zero
    z = vae.posterior_mean(v).detach().requires_grad_(True)
    (vae.log_likelihood(v, z) - 0.5 * z.pow(2).sum(1)).sum().backward()
    assert z.grad.abs().max() < 1e-3


def test_marginal_likelihood_under_one_persons_prior():
    """With ``z ~ N(m, sd^2 I)`` the marginal is ``N(b + W m, sd^2 W W^T + sigma^2 I)``."""
    torch.manual_seed(1)
    vae = FaceVAE(FaceConfig(size=6, latents=3))
    v = torch.randn(4, 6, 6)
    m = torch.randn(4, 3)
    w, b = vae.decoder[0].weight, vae.decoder[0].bias
    with torch.no_grad():
        for sd in (0.3, 1.0):
            cov = sd**2 * w @ w.T + torch.exp(2 * vae.log_sigma) * torch.eye(36)
            ref = torch.stack([torch.distributions.MultivariateNormal(b + w @ m[i], covariance_matrix=cov)
                               .log_prob(v[i].flatten()) for i in range(4)])
            assert torch.allclose(vae.marginal_log_likelihood(v, m, sd), ref, atol=1e-3)
        # a face of this person is more likely under its own prior than under the generic one
        face = vae.decode(m)
        assert (vae.marginal_log_likelihood(face, m, 0.3) > vae.marginal_log_likelihood(face)).all()


def test_a_persons_residual_moves_the_mean_to_their_own_face():
    """``residual`` adds to the mean: ``N(b + W m + r, sd^2 W W^T + sigma^2 I)``; with ``r`` the part
    of a face ``v0`` its latents miss, the mean is ``v0`` itself (the tracker's ``template=1``)."""
    torch.manual_seed(2)
    vae = FaceVAE(FaceConfig(size=6, latents=3))
    v0 = torch.randn(3, 6, 6)
    w = vae.decoder[0].weight
    with torch.no_grad():
        m = vae.posterior_mean(v0)
        r = v0 - vae.decode(m)
        cov = 0.5**2 * w @ w.T + torch.exp(2 * vae.log_sigma) * torch.eye(36)
        v = torch.randn(3, 6, 6)
        ref = torch.stack([torch.distributions.MultivariateNormal(v0[i].flatten(), covariance_matrix=cov)
                           .log_prob(v[i].flatten()) for i in range(3)])
        assert torch.allclose(vae.marginal_log_likelihood(v, m, 0.5, r), ref, atol=1e-3)
        assert torch.allclose(vae.marginal_log_likelihood(v, m, 0.5, torch.zeros_like(r)),
                              vae.marginal_log_likelihood(v, m, 0.5), atol=1e-4)
        # the person's own face is the mode: more likely than under the latents' decoded mean
        assert (vae.marginal_log_likelihood(v0, m, 0.5, r) > vae.marginal_log_likelihood(v0, m, 0.5)).all()


def test_background_fit_is_the_sample_gaussian():
    torch.manual_seed(0)
    x = torch.randn(4000, 3, 3) @ torch.randn(3, 3) + 0.5
    bg = BackgroundModel(3)
    bg.fit(x, shrink=0.0)
    flat = x.flatten(1).double()
    ref = torch.distributions.MultivariateNormal(flat.mean(0), covariance_matrix=torch.cov(flat.T))
    assert torch.allclose(bg.log_prob(x[:10]).double(), ref.log_prob(flat[:10]), atol=1e-2)
    bg.fit(x, rank=2, shrink=0.0)  # probabilistic PCA keeps the top-2 variances exactly
    assert torch.isfinite(bg.log_prob(x[:10])).all()


@pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="shipped face weights absent")
def test_shipped_weights_prefer_the_true_window(data_dir):
    state = torch.load(SHIPPED_WEIGHTS, map_location="cpu", weights_only=True)
    assert state["format"] == 1 and state["model_id"] == "face"
    model = load_face_model()
    from attentrack.generative.face.evaluate import test_scenes

    sc = test_scenes(data_dir, 12)
    from attentrack.generative.face.localise import prepare_images

    imgs = prepare_images(sc.images, sc.u[:, 2])
    u = torch.as_tensor(sc.u, dtype=torch.float32)
    shifted = u.clone()
    shifted[:, 0] += 0.5 * u[:, 2]
    with torch.no_grad():
        def score(uu):
            z = model.vae.posterior_mean(normalise(read_glimpse(imgs, uu, 24)))
            return log_joint(model.vae, model.background, imgs, uu, z, (20.0, 120.0), 0.35).total

        assert float((score(u) > score(shifted)).float().mean()) >= 0.75


def test_bad_weights(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_face_model(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "other"}, bad)
    with pytest.raises(InputError, match="not an attentrack weights file"):
        load_face_model(bad)


def test_relight_keeps_range_and_is_identity_at_zero():
    from attentrack.generative.face.scenes import relight

    img = np.random.default_rng(0).random((30, 40)).astype(np.float32)
    assert relight(np.random.default_rng(1), img, 0.0) is img
    a = relight(np.random.default_rng(1), img, 0.4)
    b = relight(np.random.default_rng(1), img, 0.4)
    assert np.array_equal(a, b) and a.shape == img.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1 and not np.allclose(a, img, atol=0.02)


def test_side_range_check_matches_what_scenes_can_place():
    """The largest side :func:`check_side_range` accepts is placed by ``make_scenes`` at the largest
    rotation with the whole rotated square inside the scene; one pixel more is refused."""
    import math

    from attentrack.generative.face.scenes import SCENE_SIZE, check_side_range, make_scenes

    rotation = 0.35
    largest = min(SCENE_SIZE) / (math.cos(rotation) + math.sin(rotation))
    check_side_range((30.0, largest), rotation)
    squares = np.full((2, 24, 24), 0.5, np.float32)
    scenes = make_scenes(np.random.default_rng(0), squares, [np.zeros((120, 160), np.float32)], 20,
                         side_range=(largest, largest), max_rotation=rotation)
    half = 0.5 * largest * (np.abs(np.cos(scenes.u[:, 3])) + np.abs(np.sin(scenes.u[:, 3])))
    assert np.all(scenes.u[:, 0] - half >= 0) and np.all(scenes.u[:, 0] + half <= SCENE_SIZE[0])
    assert np.all(scenes.u[:, 1] - half >= 0) and np.all(scenes.u[:, 1] + half <= SCENE_SIZE[1])
    with pytest.raises(InputError, match="does not fit"):
        check_side_range((30.0, largest + 1), rotation)
    with pytest.raises(InputError, match="low <= high"):
        check_side_range((50.0, 40.0), rotation)


@pytest.mark.slow
def test_training_from_init_weights_keeps_the_start(data_dir, tmp_path, one_thread):
    """``init_weights`` starts every part from the given weights (the background model is not refitted);
    a run of proposer steps changes only the proposer."""
    from attentrack.generative.face.model import load_face_model
    from attentrack.generative.face.train import FaceTrainOptions, train_face

    start = load_face_model()
    train_face(FaceTrainOptions(data=str(data_dir), out=str(tmp_path / "ft"), vae_steps=0, proposer_steps=2, scene_batch=2,
                                val_every=0, progress=False, init_weights=str(SHIPPED_WEIGHTS), illumination=0.3,
                                scene_sides=(20.0, 90.0)))
    tuned = load_face_model(tmp_path / "ft" / "face.pt")
    for name, tensor in start.vae.state_dict().items():
        assert torch.equal(tensor, tuned.vae.state_dict()[name]), name
    assert torch.equal(start.background.mean, tuned.background.mean)
    changed = [n for n, t in start.proposer.state_dict().items() if not torch.equal(t, tuned.proposer.state_dict()[n])]
    assert changed
    assert tuned.meta["training"]["illumination"] == 0.3
