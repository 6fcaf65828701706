"""Key mathematical properties of SQAIR's pieces: STN read/write, IWAE, VIMCO, shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.config import SQAIRConfig
from attentrack.tracker.sqair.losses import SQAIRLoss, iwae_bound, vimco_baselines
from attentrack.tracker.sqair.model import SQAIR, ObjectState, load_weights, save_weights
from attentrack.tracker.sqair.modules import stn_read, stn_write, where_from_latent, where_to_box
from attentrack.tracker.sqair.readout import object_boxes


def test_write_of_read_of_identity_box_returns_the_glimpse():
    torch.manual_seed(0)
    g = torch.rand(2, 1, 20, 20)
    where = torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 2)
    written = stn_write(g, where, (20, 20))
    assert torch.allclose(written, g, atol=1e-6)
    read = stn_read(written, where[:, None], 20)[:, 0]
    assert torch.allclose(read, g, atol=1e-6)


def test_read_of_a_written_glimpse_returns_it_at_any_window():
    # a smooth glimpse (bilinear resampling is exact on linear ramps, close on smooth images)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 10), torch.linspace(-1, 1, 10), indexing="ij")
    g = torch.exp(-(xx ** 2 + yy ** 2))[None, None].repeat(3, 1, 1, 1)
    where = torch.tensor([[0.4, 0.4, -0.2, 0.2], [0.4, 0.4, 0.0, 0.0], [0.4, 0.4, 0.2, -0.4]])
    canvas = stn_write(g, where, (50, 50))
    assert canvas[:, :, :2].abs().max() == 0  # nothing written outside the window
    back = stn_read(canvas, where[:, None], 10)[:, 0]
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # edge pixels blend with the zero outside
    assert torch.allclose(back[inner], g[inner], atol=0.03)


def test_where_conventions():
    where = where_from_latent(torch.tensor([[0.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(where, torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
    assert torch.allclose(where_to_box(where, (50, 50)), torch.tensor([[12.5, 12.5, 25.0, 25.0]]))


def test_iwae_with_one_particle_is_the_elbo():
    lw = torch.randn(4, 1) * 10
    assert torch.allclose(iwae_bound(lw), lw[:, 0])
    lw5 = torch.randn(4, 5) * 3
    b = iwae_bound(lw5)
    assert (b >= lw5.mean(1) - 1e-5).all()  # the IWAE bound is at least the mean ELBO (Jensen)
    assert torch.allclose(b, torch.log(torch.exp(lw5).mean(1)), atol=1e-5)


def test_vimco_baseline_leaves_one_out():
    lw = torch.randn(3, 5, requires_grad=True)
    base = vimco_baselines(lw)
    for k in range(5):
        grad, = torch.autograd.grad(base[:, k].sum(), lw, retain_graph=True)
        assert grad[:, k].abs().max() < 1e-7  # L_{-k} does not depend on log w_k
        assert grad.abs().sum() > 0
    # all particles equal: the baseline equals the bound, the learning signal is 0
    same = torch.full((2, 5), -7.0)
    assert torch.allclose(vimco_baselines(same), iwae_bound(same)[:, None].expand(2, 5))
    # a particle better than the rest gets a positive signal
    lw2 = torch.tensor([[0.0, -5.0, -5.0, -5.0, -5.0]])
    signal = iwae_bound(lw2)[:, None] - vimco_baselines(lw2)
    assert signal[0, 0] > 0 and (signal[0, 1:] < signal[0, 0]).all()
    with pytest.raises(ValueError):
        vimco_baselines(torch.zeros(2, 1))


def test_loss_combines_bound_and_score_function():
    lw = torch.tensor([[0.0, -1.0]], requires_grad=True)
    lq = torch.tensor([[0.0, 0.0]], requires_grad=True)
    terms = SQAIRLoss()(lw, lq, n_frames=2)
    terms.total.backward()
    assert math.isclose(terms.bound, float(iwae_bound(lw.detach())), rel_tol=1e-6)
    assert math.isclose(terms.bound_per_frame, terms.bound / 2, rel_tol=1e-6)
    assert lq.grad[0, 0] < 0 < lq.grad[0, 1]  # raise the better particle's presences


def test_shapes_generation_and_boxes():
    torch.manual_seed(0)
    cfg = SQAIRConfig(height=30, width=40, max_objects=2, glimpse=8, what_dim=6, hidden=16)
    model = SQAIR(cfg)
    out = model(torch.rand(2, 3, 30, 40), particles=3, keep_objects=True)
    assert out.log_weights.shape == (2, 3) and out.log_q_pres.shape == (2, 3)
    assert out.pres.shape == (2, 3, 3, 2) and out.where.shape == (2, 3, 3, 2, 4)
    assert out.objects.shape == (2, 3, 3, 2, 30, 40) and out.canvas.shape == (2, 3, 3, 30, 40)
    assert set(out.pres.unique().tolist()) <= {0.0, 1.0}
    assert torch.isfinite(out.log_weights).all()
    assert object_boxes(out).shape == (2, 3, 3, 2, 4)
    assert model.generate(2, 4).shape == (2, 4, 30, 40)
    with pytest.raises(InputError):
        model(torch.rand(2, 3, 50, 50))


def test_weights_roundtrip_and_canvas_check(tmp_path):
    model = SQAIR(SQAIRConfig(height=20, width=20, glimpse=6, what_dim=4, hidden=8))
    save_weights(model, tmp_path / "w.pt")
    again = load_weights(tmp_path / "w.pt", 20, 20)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(InputError, match="20x20 canvas"):
        load_weights(tmp_path / "w.pt", 50, 50)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        load_weights(tmp_path / "junk.pt")


def test_discovery_can_be_limited_to_the_first_frame():
    torch.manual_seed(0)
    model = SQAIR(SQAIRConfig(height=16, width=16, max_objects=2, glimpse=6, what_dim=4, hidden=8))
    with torch.no_grad():
        model.disc_pres[-1].bias.fill_(20.0)  # discovery adds an object wherever a slot is free
        model.prop_pres[-1].bias.fill_(-20.0)  # propagation forgets every object
    frames = torch.rand(2, 3, 16, 16)
    with torch.no_grad(), model.posterior_means():
        free = model(frames, 1)
        first = model(frames, 1, first_frame_discovery_only=True)
    assert free.discovered[:, 0].sum(-1).tolist() == [[2, 2, 2]] * 2
    assert first.discovered[:, 0].sum(-1).tolist() == [[2, 0, 0]] * 2
    assert first.pres[:, 0, 1:].sum() == 0  # forgotten and not re-discovered


def test_residual_peak_finds_the_unexplained_object_and_anchors_discovery():
    from attentrack.tracker.sqair.anchors import residual_peak

    img = torch.zeros(2, 30, 40)
    img[0, 4:16, 26:32] = 1.0  # a 6x12 object centred at pixel (28.5, 9.5)
    img[1, 14:26, 2:8] = 0.5
    img[1, 0, 39] = 1.0  # one bright pixel holds less than the dimmer object's window
    peak = residual_peak(img, (6, 12))
    to_px = lambda t, n: (t + 1) * n / 2  # noqa: E731  normalised centre -> pixel coordinate
    assert abs(to_px(peak[0, 0], 40) - 29.0) <= 1.0 and abs(to_px(peak[0, 1], 30) - 10.0) <= 1.0
    assert abs(to_px(peak[1, 0], 40) - 5.0) <= 1.0 and abs(to_px(peak[1, 1], 30) - 20.0) <= 1.0
    # an untrained anchored model puts its first discovered window on the object
    model = SQAIR(SQAIRConfig(height=30, width=40, max_objects=2, glimpse=8, what_dim=4, hidden=16,
                              scale_prior=0.15, aspect_prior=2.0, anchor=True)).eval()
    with torch.no_grad(), model.posterior_means():
        state, *_ = model.discover(img[:1], model.initial_state(1))
    centre = state.where[0, 0, 2:]
    assert abs(to_px(centre[0], 40) - 29.0) <= 1.5 and abs(to_px(centre[1], 30) - 10.0) <= 1.5


def test_nearest_peak_follows_an_object_that_moved_and_keeps_a_lost_one():
    from attentrack.tracker.sqair.anchors import nearest_peak, window_mass

    img = torch.zeros(1, 30, 40)
    img[0, 4:16, 20:26] = 1.0  # the object moved 4 px right of a window centred at x=19
    img[0, 14:26, 2:8] = 1.0  # another object far away
    side = torch.tensor([6 / 40, 12 / 30])
    logit = torch.log(side / (1 - side))
    where = torch.tensor([[[*logit, (2 * 19) / 40 - 1, (2 * 10) / 30 - 1],   # near the first object
                           [*logit, 0.8, 0.8]]])                             # nothing within reach
    peak = nearest_peak(window_mass(img, (6, 12)), where)
    to_px = lambda t, n: (t + 1) * n / 2  # noqa: E731
    assert abs(to_px(peak[0, 0, 0], 40) - 23.0) <= 1.0 and abs(to_px(peak[0, 0, 1], 30) - 10.0) <= 1.0
    assert torch.equal(peak[0, 1], where[0, 1, 2:])


def test_window_centroid_follows_the_intensity_inside_the_window_only():
    from attentrack.tracker.sqair.anchors import window_centroid

    img = torch.zeros(1, 30, 40)
    img[0, 6:14, 20:24] = 1.0  # 4x8 object centred at pixel (22, 10), inside the first window
    img[0, 6:14, 34:38] = 1.0  # another object outside it
    side = torch.tensor([10 / 40, 12 / 30])  # a 10x12 px window
    logit = torch.log(side / (1 - side))
    where = torch.tensor([[[*logit, (2 * 19) / 40 - 1, (2 * 10) / 30 - 1],  # centred at (19, 10)
                           [*logit, -0.8, 0.8]]])  # over empty canvas
    centre = window_centroid(img, where)
    to_px = lambda t, n: (t + 1) * n / 2  # noqa: E731
    assert to_px(centre[0, 0, 0], 40) == pytest.approx(22.0, abs=1e-4)
    assert to_px(centre[0, 0, 1], 30) == pytest.approx(10.0, abs=1e-4)
    assert torch.equal(centre[0, 1], where[0, 1, 2:])


def test_sequential_propagation_explains_away_and_follows_the_moved_object():
    torch.manual_seed(0)
    cfg = SQAIRConfig(height=30, width=40, max_objects=2, glimpse=8, what_dim=4, hidden=16,
                      scale_prior=0.25, aspect_prior=1.5, anchor=True, sequential_propagation=True)
    model = SQAIR(cfg).eval()
    side = torch.tensor([10 / 40, 15 / 30])
    logit = torch.log(side / (1 - side))
    to_norm = lambda px, n: 2 * px / n - 1  # noqa: E731
    where = torch.tensor([[[*logit, to_norm(19, 40), to_norm(10, 30)]] * 2])  # both slots on one window
    state = model.initial_state(1)._replace(where=where, pres=torch.tensor([[1.0, 1.0]]))
    x = torch.zeros(1, 30, 40)
    x[0, 6:14, 20:24] = 1.0  # the object moved to (22, 10)
    # the first slot reads the frame; the second reads the frame minus the first slot's object
    seen = []
    enc = model.prop_glimpse_enc.forward
    model.prop_glimpse_enc.forward = lambda g: (seen.append(g.detach().clone()), enc(g))[1]
    with torch.no_grad(), model.posterior_means():
        new, scores = model.propagate(x, state)
    first = model.render(new.what[:, 0], new.where[:, 0]) * new.pres[:, 0, None, None]
    expected_second = model.read(x - first, where[:, 1:2])[:, 0]
    assert torch.allclose(seen[2], expected_second, atol=1e-5)  # order: slot 0 (old, new), slot 1 (old, ...)
    # an untrained anchored model moves the first window onto the object's centroid
    centre = new.where[0, 0, 2:]
    assert abs((centre[0] + 1) * 20 - 22.0) < 0.5 and abs((centre[1] + 1) * 15 - 10.0) < 0.5
    assert torch.isfinite(scores.log_p).all() and torch.isfinite(scores.log_q).all()


def test_a_fixed_presence_prior_is_used_however_small():
    from attentrack.tracker.sqair.model import _bernoulli_log_prob

    present, absent = torch.ones(1), torch.zeros(1)
    for prior in (1e-3, 1e-5, 1e-8, 1e-12):  # priors below 1e-5 used to be clamped to 1e-5
        assert float(_bernoulli_log_prob(present, prior)) == pytest.approx(math.log(prior), rel=1e-6)
        assert float(_bernoulli_log_prob(absent, prior)) == pytest.approx(math.log1p(-prior), abs=1e-9)
    learned = torch.tensor([1e-9, 0.5])  # a network's probability is still kept off 0 and 1
    assert torch.isfinite(_bernoulli_log_prob(torch.ones(2), learned)).all()
    with pytest.raises(ValueError):
        _bernoulli_log_prob(present, 0.0)


def test_widening_the_appearance_path_keeps_the_function_and_lets_new_units_learn():
    from attentrack.tracker.sqair.widen import widen_appearance

    torch.manual_seed(0)
    small = SQAIR(SQAIRConfig(height=24, width=24, glimpse=8, what_dim=6, hidden=16, max_objects=2))
    with torch.no_grad():  # non-trivial output layers (GaussianHead starts them at zero)
        for p in small.parameters():
            p.add_(0.05 * torch.randn_like(p))
    grown = widen_appearance(small, 40, seed=3)
    assert grown.config.appearance_hidden == 40 and grown.decoder.net[0].out_features == 40
    assert grown.disc_what.net[0].out_features == 40 and grown.prop_glimpse_enc[0].out_features == 40
    frames = torch.rand(2, 3, 24, 24)
    torch.manual_seed(5)
    a = small(frames, 2, keep_objects=True)
    torch.manual_seed(5)
    b = grown(frames, 2, keep_objects=True)
    assert torch.equal(a.pres, b.pres)
    assert torch.allclose(a.log_weights, b.log_weights, atol=1e-4) and torch.allclose(a.canvas, b.canvas, atol=1e-6)
    # the new units' output weights start at zero but get gradient, so training can use them
    grown.decoder(torch.randn(4, 6)).sum().backward()
    assert grown.decoder.net[-1].weight[:, 16:].abs().max() == 0
    assert grown.decoder.net[-1].weight.grad[:, 16:].abs().max() > 0
    with pytest.raises(InputError):
        widen_appearance(grown, 20)


def test_clipped_canvas_renders_overlapping_objects_as_moving_mnist_draws_digits():
    torch.manual_seed(0)
    config = dict(height=16, width=16, glimpse=6, what_dim=4, hidden=8, max_objects=2)
    plain, clipped = SQAIR(SQAIRConfig(**config)), SQAIR(SQAIRConfig(**config, clip_canvas=True))
    clipped.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for m in (plain, clipped):
            m.decoder.net[-1].bias.fill_(6.0)  # bright objects: two overlapping ones sum to ~2
    what = torch.zeros(1, 2, 4)
    where = torch.tensor([[[0.0, 0.0, -0.1, 0.0], [0.0, 0.0, 0.1, 0.0]]])  # half-canvas windows, overlapping
    state = ObjectState(what, where, torch.ones(1, 2), torch.zeros(1, 2, 8))
    frame = torch.zeros(1, 16, 16)
    with plain.posterior_means(), clipped.posterior_means():  # same weights, same (mean) objects
        a, b = plain.step(frame, state, discover=False), clipped.step(frame, state, discover=False)
        assert torch.allclose(a.objects, b.objects)
        assert a.canvas.max() > 1.9 and b.canvas.max() <= 1.0
        assert torch.allclose(b.canvas, a.objects.sum(1).clamp(max=1.0))
        # the likelihood is of the clipped frame: a frame drawn like Moving MNIST's scores higher
        target = a.objects.sum(1).clamp(max=1.0)
        assert clipped.step(target, state, discover=False).log_lik > plain.step(target, state, discover=False).log_lik
    assert clipped.generate(3, 2).max() <= 1.0


def test_a_fixed_keep_prior_charges_every_object_in_every_frame():
    torch.manual_seed(0)
    config = dict(height=16, width=16, glimpse=6, what_dim=4, hidden=8, max_objects=2)
    learned, fixed = SQAIR(SQAIRConfig(**config)), SQAIR(SQAIRConfig(**config, prop_pres_prior=1e-8))
    fixed.load_state_dict(learned.state_dict())
    state = ObjectState(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2, 8))
    frame = torch.rand(1, 16, 16)
    with learned.posterior_means(), fixed.posterior_means():  # the prop_pres bias keeps the object
        new_l, s_l = learned.propagate(frame, state)
        new_f, s_f = fixed.propagate(frame, state)
    assert new_l.pres.tolist() == new_f.pres.tolist() == [[1.0, 0.0]]  # the absent slot stays absent, unscored
    p_learned = torch.sigmoid(learned.prior_pres(state.h[:, 0]))[0, 0]
    gap = float((s_f.log_p - s_l.log_p).detach())
    assert gap == pytest.approx(math.log(1e-8) - float(p_learned.detach().log()), abs=1e-3)
    with pytest.raises(InputError):
        SQAIRConfig(prop_pres_prior=1.0)
    assert fixed.generate(2, 3).shape == (2, 3, 16, 16)


def test_a_coarse_box_snaps_to_the_foreground_within_one_canvas_pixel():
    from attentrack.tracker.sqair.cctv.snap import snap_box_to_mask

    frame = (640, 480)
    mask = np.zeros((240, 320), np.float32)  # half the frame's resolution, like MOG2's
    mask[50:150, 100:130] = 1  # a person: frame pixels x 200-260, y 100-300
    mask[50:150, 160:180] = 1  # a neighbour 60 frame pixels to the right
    coarse = np.array([196.0, 104.0, 56.0, 200.0])  # off by a few pixels, as an 8x-scaled canvas box
    assert np.allclose(snap_box_to_mask(coarse, mask, frame, (8.0, 8.0)), [200, 100, 60, 200])
    wide = np.array([190.0, 100.0, 80.0, 200.0])  # reaches 270 + 8: the neighbour (from 320) stays out
    assert np.allclose(snap_box_to_mask(wide, mask, frame, (8.0, 8.0)), [200, 100, 60, 200])
    empty = np.array([400.0, 300.0, 40.0, 80.0])  # no foreground to fit to: unchanged
    assert np.allclose(snap_box_to_mask(empty, mask, frame, (8.0, 8.0)), empty)
    assert np.allclose(snap_box_to_mask(empty, mask, frame, (8.0, 8.0), min_fill=0.0), empty)  # even with no floor
    edge = np.array([-4.0, -4.0, 20.0, 20.0])  # at the border the region is clipped to the frame
    assert np.allclose(snap_box_to_mask(edge, mask, frame, (8.0, 8.0)), edge)


def test_a_box_wider_than_the_prior_allows_is_a_group_and_is_not_reported():
    from attentrack.tracker.sqair.cctv.config import cctv_config
    from attentrack.tracker.sqair.cctv.tracking import CanvasTracker

    model = SQAIR(cctv_config(80, 60, scale_prior=0.1, aspect_prior=2.0)).eval()
    assert model.prior_window_px() == (8, 16)  # 0.1 of 80 wide, twice as tall in pixels
    wide_w, _ = model.prior_window_px(2.0)  # two prior std (0.5 on the logit side) above
    side = 1 / (1 + math.exp(-(math.log(0.1 / 0.9) + 1.0)))
    assert wide_w == round(side * 80) == 19
    runner = CanvasTracker(model, min_mass=0.1, max_size_std=2.0)
    person = np.zeros((60, 80), np.float32)
    person[10:26, 30:38] = 1.0  # one prior window of ink
    assert runner.report_score(person, np.array([30.0, 10, 8, 16])) == 1.0
    group = np.zeros((60, 80), np.float32)
    group[10:26, 20:44] = 1.0  # three people side by side: 24 px > 19
    assert runner.report_score(group, np.array([20.0, 10, 24, 16])) is None
    tall = np.zeros((60, 80), np.float32)
    tall[0:50, 30:40] = 1.0  # someone near the camera: taller, not wider, than the prior allows
    assert runner.report_score(tall, np.array([30.0, 0, 10, 50])) == 1.0
    assert CanvasTracker(model, min_mass=0.1).report_score(group, np.array([20.0, 10, 24, 16])) == 1.0  # no limit
    speck = np.zeros((60, 80), np.float32)
    speck[5:7, 5:7] = 1.0  # too little ink for min_mass
    assert runner.report_score(speck, np.array([5.0, 5, 2, 2])) is None


def test_conv_glimpse_decoder_shapes_range_faint_start_and_settings(tmp_path):
    from attentrack.tracker.sqair.modules import ConvGlimpseDecoder
    from attentrack.tracker.sqair.widen import widen_appearance

    config = SQAIRConfig(height=24, width=24, glimpse=8, what_dim=6, hidden=16, max_objects=2, decoder="conv")
    model = SQAIR(config)
    assert isinstance(model.decoder, ConvGlimpseDecoder)
    out = model.decoder(torch.randn(5, 6) * 3).detach()
    assert out.shape == (5, 1, 8, 8) and float(out.min()) >= 0 and float(out.max()) <= 1
    # every pixel starts near sigmoid(-2): objects start faint, as with the mlp decoder
    with torch.no_grad():
        start = float(model.decoder(torch.zeros(1, 6)).mean())
    assert abs(start - torch.sigmoid(torch.tensor(-2.0)).item()) < 0.1
    result = model(torch.rand(2, 3, 24, 24), 2, keep_objects=True)
    assert result.canvas.shape[-2:] == (24, 24) and torch.isfinite(result.log_weights).all()
    save_weights(model, tmp_path / "conv.pt")  # the setting travels with the weights
    again = load_weights(tmp_path / "conv.pt", 24, 24)
    assert again.config.decoder == "conv" and isinstance(again.decoder, ConvGlimpseDecoder)
    with pytest.raises(InputError, match="even glimpse side"):
        SQAIRConfig(glimpse=7, decoder="conv")
    with pytest.raises(InputError, match="decoder must be one of mlp, conv"):
        SQAIRConfig(decoder="deconv")
    with pytest.raises(InputError, match="only the mlp glimpse decoder can be widened"):
        widen_appearance(model, 32)


def test_count_errors_split_by_whether_the_sequence_was_counted_right_before():
    from attentrack.tracker.sqair.evaluate import count_error_onset

    true = np.array([[2, 2, 2, 2], [1, 1, 1, 1], [0, 0, 0, 0]])
    counted = np.array([[1, 1, 2, 3],   # two wrong from the start, then one after a right count
                        [1, 2, 2, 1],   # right first: both wrong frames come later
                        [1, 1, 1, 1]])  # never right: all four from the start
    assert count_error_onset(counted, true) == (6, 3)
    assert count_error_onset(true, true) == (0, 0)


@pytest.mark.parametrize("sequential", [False, True])
def test_generation_reads_each_generated_frame_as_inference_reads_it(sequential):
    # issue 28: generate used to give new objects the propagation encoder's reading of the whole
    # frame (inference: the discovery encoder on discovery's residual) and, with sequential
    # propagation, read the whole frame where inference reads the frame minus earlier objects
    torch.manual_seed(3)
    model = SQAIR(SQAIRConfig(height=16, width=16, max_objects=3, glimpse=6, what_dim=4, hidden=12,
                              disc_pres_prior=0.5, sequential_propagation=sequential))
    calls = {"prop": 0, "disc": 0}
    hooks = [model.prop_glimpse_enc.register_forward_hook(lambda *a: calls.__setitem__("prop", calls["prop"] + 1)),
             model.disc_glimpse_enc.register_forward_hook(lambda *a: calls.__setitem__("disc", calls["disc"] + 1))]
    frames, states, found = model.generate(6, 4, return_states=True)
    for hook in hooks:
        hook.remove()
    assert calls["disc"] > 0 and calls["prop"] > 0  # new objects go through discovery's encoder
    assert found.sum() > 0 and (states[-1].pres - found[:, -1]).sum() > 0  # objects found and kept
    zero = torch.zeros(6, 12)
    with torch.no_grad():
        for t, (frame, state) in enumerate(zip(frames.unbind(1), states)):
            h_prev = states[t - 1].h if t else torch.zeros_like(state.h)
            new = found[:, t]
            kept = state.pres - new
            objs = [model.render(state.what[:, i], state.where[:, i]) for i in range(3)]
            assert torch.allclose(frame, sum(o * (kept[:, i] + new[:, i])[:, None, None] for i, o in enumerate(objs)))
            for i in range(3):
                # what inference computes for this slot, from the same frame and latents
                before_kept = sum((objs[j] * kept[:, j, None, None] for j in range(i)), torch.zeros_like(frame))
                image = frame - before_kept if sequential else frame
                e_prop = model.prop_glimpse_enc(model.read(image, state.where[:, i:i + 1])[:, 0])
                h_prop = model.temporal(torch.cat([state.what[:, i], state.where[:, i], e_prop], -1), h_prev[:, i])
                residual = frame - sum((objs[j] * kept[:, j, None, None] for j in range(3)), torch.zeros_like(frame)) \
                    - sum((objs[j] * new[:, j, None, None] for j in range(i)), torch.zeros_like(frame))
                e_disc = model.disc_glimpse_enc(model.read(residual, state.where[:, i:i + 1])[:, 0])
                h_disc = model.temporal(torch.cat([state.what[:, i], state.where[:, i], e_disc], -1), zero)
                expected = torch.where(new[:, i, None] > 0, h_disc, h_prop)
                assert torch.allclose(state.h[:, i], expected, atol=1e-5), (t, i)


def test_discovery_count_prior_bernoulli_is_the_chain_and_categorical_is_learned_and_frame_dependent():
    rho = 0.01
    bern = SQAIR(SQAIRConfig(height=16, width=16, max_objects=3, glimpse=6, what_dim=4, hidden=12, disc_pres_prior=rho))
    cat = SQAIR(SQAIRConfig(height=16, width=16, max_objects=3, glimpse=6, what_dim=4, hidden=12,
                            disc_prior="categorical"))
    free = torch.tensor([0.0, 1.0, 2.0, 3.0])
    lb = bern.discovery_count_log_prior(free, first_frame=False)
    for f in range(4):
        for k in range(4):
            if k > f:
                assert lb[f, k] == -math.inf
            else:  # k successes, then one failure unless every free slot is taken
                assert float(lb[f, k].detach()) == pytest.approx(k * math.log(rho) + (k < f) * math.log1p(-rho), rel=1e-6)
        assert float(lb[f].detach().exp().sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(lb, bern.discovery_count_log_prior(free, first_frame=True))  # the same in every frame
    first = cat.discovery_count_log_prior(free, first_frame=True)
    later = cat.discovery_count_log_prior(free, first_frame=False)
    for f in range(4):
        assert torch.allclose(first[f, :f + 1].exp(), torch.full((f + 1,), 1.0 / (f + 1)))  # initially uniform
        bonus = math.exp(10.0)  # the original's initial bonus on "no new object" after the first frame
        assert float(later[f, 0].detach().exp()) == pytest.approx(bonus / (bonus + f), rel=1e-5)
        assert (first[f, f + 1:] == -math.inf).all() and (later[f, f + 1:] == -math.inf).all()
        assert float(later[f].detach().exp().sum()) == pytest.approx(1.0, abs=1e-6)
    later[3, 1].backward()
    assert cat.disc_count_logits.grad.abs().sum() > 0 and cat.disc_count_later.grad.abs().sum() > 0
    with pytest.raises(InputError, match="disc_prior must be one of"):
        SQAIRConfig(disc_prior="poisson")


def test_discovery_scores_the_count_under_the_configured_prior():
    torch.manual_seed(1)
    cfg = dict(height=16, width=16, max_objects=3, glimpse=6, what_dim=4, hidden=12, disc_pres_prior=1e-8)
    bern = SQAIR(SQAIRConfig(**cfg))
    cat = SQAIR(SQAIRConfig(**cfg, disc_prior="categorical"))
    cat.load_state_dict(bern.state_dict(), strict=False)  # the same networks; only the count prior differs
    x = torch.rand(2, 16, 16)
    state = bern.initial_state(2)
    state = state._replace(pres=torch.tensor([[1.0, 0, 0], [0, 0, 0]]))  # 2 and 3 free slots
    free = 3 - state.pres.sum(1)
    with bern.posterior_means(), cat.posterior_means(), torch.no_grad():
        _, sb, _, found = bern.discover(x, state)
        k = found.sum(1).long()[:, None]
        for first_frame in (True, False):
            _, sc, _, found_c = cat.discover(x, state, first_frame=first_frame)
            assert torch.equal(found, found_c)  # the prior does not change inference's samples
            gap = (cat.discovery_count_log_prior(free, first_frame).gather(1, k)
                   - bern.discovery_count_log_prior(free, first_frame).gather(1, k))[:, 0]
            assert torch.allclose(sc.log_p - sb.log_p, gap, atol=1e-3)
            assert torch.equal(sc.log_q, sb.log_q)
        _, s_off, _, _ = cat.discover(x, state, enabled=False)
        _, s_off_b, _, _ = bern.discover(x, state, enabled=False)
        assert torch.equal(s_off.log_p, s_off_b.log_p)  # nothing discovered, nothing scored
    assert cat.generate(3, 2).shape == (3, 2, 16, 16)


def test_weighted_read_out_averages_the_particles_by_importance_weight():
    from attentrack.tracker.sqair.evaluate import importance_weights, weighted_count_tally

    true = np.array([[1, 2]])
    counts = np.array([[[1, 2], [1, 1]]])  # particle 0 right twice, particle 1 wrong in the second frame
    w = importance_weights(torch.tensor([[math.log(3.0), 0.0]]))  # weights 0.75 and 0.25
    assert np.allclose(w, [[0.75, 0.25]])
    tally = weighted_count_tally(counts, true, w, slots=3, max_true=2)
    assert tally["correct"] == pytest.approx(1.75) and tally["seq_ok"] == pytest.approx(0.75)
    assert np.allclose(tally["confusion"], [[0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0.25, 0.75, 0]])
    assert np.allclose(tally["onset"], [0.0, 0.25])  # the wrong frame came after a right one
    # weights far apart (hundreds of nats, as over whole sequences): the best particle's count
    sharp = weighted_count_tally(counts, true, importance_weights(torch.tensor([[0.0, 300.0]])), 3, 2)
    assert sharp["correct"] == pytest.approx(1.0) and sharp["seq_ok"] == pytest.approx(0.0)


@pytest.mark.parametrize("sequential", [False, True])
def test_glimpse_mask_starts_open_and_a_closed_mask_blinds_propagation(sequential):
    torch.manual_seed(0)
    cfg = SQAIRConfig(height=30, width=40, max_objects=2, glimpse=8, what_dim=4, hidden=16,
                      sequential_propagation=sequential, glimpse_mask=True)
    model = SQAIR(cfg).eval()
    plain = SQAIR(SQAIRConfig(**{**cfg.to_dict(), "glimpse_mask": False})).eval()
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.startswith("prop_glimpse_mask.") for k in unexpected)
    x = torch.rand(1, 30, 40)
    state = model.initial_state(1)._replace(where=torch.randn(1, 2, 4) * 0.3, pres=torch.ones(1, 2),
                                            h=torch.randn(1, 2, 16))
    # the mask starts at sigmoid(6) everywhere, whatever the state: reading is almost unchanged
    glimpses = plain.read(x, state.where).flatten(0, 1)
    masked = model.read_propagated(x, state.where, state.h)
    assert torch.allclose(masked, glimpses * torch.sigmoid(torch.tensor(6.0)), atol=1e-6)
    # a mask that closes makes every propagated glimpse black
    with torch.no_grad():
        model.prop_glimpse_mask[-1].bias.fill_(-60.0)
    seen = []
    enc = model.prop_glimpse_enc.forward
    model.prop_glimpse_enc.forward = lambda g: (seen.append(g.detach().clone()), enc(g))[1]
    with torch.no_grad(), model.posterior_means():
        model.propagate(x, state)
    assert seen and all(float(g.abs().max()) < 1e-12 for g in seen)


def test_relational_propagation_starts_as_without_and_lets_later_objects_see_earlier_ones():
    torch.manual_seed(0)
    cfg = SQAIRConfig(height=30, width=40, max_objects=3, glimpse=8, what_dim=4, hidden=16,
                      sequential_propagation=True, relational=True)
    model = SQAIR(cfg).eval()
    plain = SQAIR(SQAIRConfig(**{**cfg.to_dict(), "relational": False})).eval()
    plain.load_state_dict(model.state_dict(), strict=False)
    x = torch.rand(1, 30, 40)
    state = model.initial_state(1)._replace(where=torch.randn(1, 3, 4) * 0.3, pres=torch.ones(1, 3),
                                            h=torch.randn(1, 3, 16))
    with torch.no_grad(), model.posterior_means(), plain.posterior_means():
        related, _ = model.propagate(x, state)
        alone, _ = plain.propagate(x, state)
        assert torch.allclose(related.where, alone.where) and torch.allclose(related.what, alone.what)
        # once the head has learned something, an object's posterior depends on the objects before it
        for p in model.prop_relation_head[-1].parameters():
            p.normal_(0.0, 0.5)
        moved = state._replace(where=state.where.clone())
        moved.where[:, 1, 2:] += 0.5  # the second object was elsewhere
        a, _ = model.propagate(x, state)
        b, _ = model.propagate(x, moved)
        a_plain, _ = plain.propagate(x, state)
        b_plain, _ = plain.propagate(x, moved)
    assert torch.allclose(a.where[:, 0], b.where[:, 0])  # the first sees no object before it
    # the third sees where the second went through the relation, not only through the residual
    assert not torch.allclose(a.where[:, 2] - b.where[:, 2], a_plain.where[:, 2] - b_plain.where[:, 2], atol=1e-4)
    with pytest.raises(InputError, match="sequential_propagation"):
        SQAIRConfig(relational=True)


def test_conditioned_where_prior_starts_fixed_and_then_depends_on_the_propagated_objects():
    torch.manual_seed(0)
    cfg = SQAIRConfig(height=30, width=40, max_objects=2, glimpse=8, what_dim=4, hidden=16, where_prior="conditioned")
    model = SQAIR(cfg)
    fixed = model.discovery_where_prior()
    state = model.initial_state(3)._replace(what=torch.randn(3, 2, 4), where=torch.randn(3, 2, 4),
                                            pres=torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]))
    prior = model.discovery_where_prior(state)
    assert prior.loc.shape == (3, 4)
    assert torch.allclose(prior.loc, fixed.loc.expand(3, 4)) and torch.allclose(prior.scale, fixed.scale.expand(3, 4))
    with torch.no_grad():
        model.disc_where_prior_head[-1].weight.normal_(0.0, 0.5)
    prior = model.discovery_where_prior(state)
    # none, one or two objects propagated: three priors
    assert not torch.allclose(prior.loc[0], prior.loc[1]) and not torch.allclose(prior.loc[1], prior.loc[2])
    assert (prior.scale > 0).all()
    with pytest.raises(InputError, match="where_prior"):
        SQAIRConfig(where_prior="learned")
    # generation draws new objects' windows from it
    frames = model.generate(2, 3)
    assert frames.shape == (2, 3, 30, 40) and torch.isfinite(frames).all()


def test_scaled_decoder_output_is_the_last_layer_times_a_learned_scale(tmp_path):
    """The original SQAIR's glimpse output: unsquashed, times one learned scale (0.25 at first),
    objects starting empty; the default stays the sigmoid, and the setting travels with the weights."""
    from attentrack.tracker.sqair.modules import OUTPUT_SCALE_INIT
    from attentrack.tracker.sqair.widen import widen_appearance

    config = SQAIRConfig(height=24, width=24, glimpse=8, what_dim=6, hidden=16, max_objects=2,
                         decoder_output="scaled")
    model = SQAIR(config)
    what = torch.randn(5, 6) * 3
    with torch.no_grad():
        pre = model.decoder.net(what)
        out = model.decoder(what)
        assert torch.allclose(out.flatten(1), pre * OUTPUT_SCALE_INIT)
        model.decoder.out.output_scale.fill_(2.0)
        assert torch.allclose(model.decoder(what).flatten(1), 2 * pre)  # linear in the learned scale
    assert float(out.min()) < 0 < float(out.max())  # not squashed into [0, 1]
    assert float(model.decoder.net[-1].bias.detach().abs().max()) == 0.0  # every pixel's offset starts at zero
    assert "decoder.out.output_scale" in dict(model.named_parameters())
    result = model(torch.rand(2, 3, 24, 24), 2, keep_objects=True)
    assert torch.isfinite(result.log_weights).all()
    result.log_weights.sum().backward()
    assert model.decoder.out.output_scale.grad is not None
    save_weights(model, tmp_path / "scaled.pt")
    again = load_weights(tmp_path / "scaled.pt", 24, 24)
    assert again.config.decoder_output == "scaled"
    assert float(again.decoder.out.output_scale) == 2.0
    wide = widen_appearance(again, 32)  # widening keeps the scale and the function
    assert float(wide.decoder.out.output_scale) == 2.0
    with torch.no_grad():
        assert torch.allclose(wide.decoder(what), again.decoder(what), atol=1e-5)
    default = SQAIR(SQAIRConfig(height=24, width=24, glimpse=8, what_dim=6, hidden=16, max_objects=2))
    assert not any("output_scale" in name for name in default.state_dict())  # earlier weights load as they were
    with pytest.raises(InputError, match="decoder_output must be one of sigmoid, scaled"):
        SQAIRConfig(decoder_output="tanh")


def test_rnn_propagation_prior_reads_only_the_objects_past_latents():
    """``prop_prior="rnn"`` (the original's): the prior of a kept object's step is a function of its
    past latents through a GRU of its own, not of the temporal state that has read the frames; a
    discovered object's prior state starts at zero; generation and both propagation forms carry it."""
    torch.manual_seed(0)
    small = dict(height=24, width=24, glimpse=8, what_dim=6, hidden=16, max_objects=2)
    rnn = SQAIR(SQAIRConfig(**small, prop_prior="rnn"))
    state_prior = SQAIR(SQAIRConfig(**small))
    assert not hasattr(state_prior, "prior_rnn") and state_prior.initial_state(3).prior_h is None
    k = 4
    what0, where0 = torch.randn(k, 6), torch.randn(k, 4)
    d_what, d_where, e = torch.randn(k, 6), torch.randn(k, 4), torch.randn(k, 16)
    h_a, h_b, prior_h = torch.randn(k, 16), torch.randn(k, 16), torch.randn(k, 16)
    args = (torch.ones(k), d_what, d_where, e, torch.zeros(k))
    with torch.no_grad(), rnn.posterior_means(), state_prior.posterior_means():
        a = rnn._keep_and_score(what0, where0, h_a, *args, prior_h=prior_h)
        b = rnn._keep_and_score(what0, where0, h_b, *args, prior_h=prior_h)
        assert torch.allclose(a.log_p, b.log_p)  # the frames' state does not enter the prior
        assert torch.allclose(a.prior_h, rnn.prior_rnn(torch.cat([what0, where0], -1), prior_h))
        c = rnn._keep_and_score(what0 + 1, where0, h_a, *args, prior_h=prior_h)
        assert not torch.allclose(a.log_p, c.log_p)  # the past latents do
        s_a = state_prior._keep_and_score(what0, where0, h_a, *args)
        s_b = state_prior._keep_and_score(what0, where0, h_b, *args)
        assert not torch.allclose(s_a.log_p, s_b.log_p) and s_a.prior_h is None
        # discovery: a new object's prior state is zero, a kept one's is untouched
        x = torch.rand(1, 24, 24)
        kept = rnn.initial_state(1)._replace(pres=torch.tensor([[1.0, 0.0]]), prior_h=torch.ones(1, 2, 16))
        after, _, _, found = rnn.discover(x, kept)
        assert torch.equal(after.prior_h[0, 0], torch.ones(16))
        assert torch.equal(after.prior_h[0, 1], torch.ones(16) * (1 - found[0, 1]))
    for sequential in (False, True):
        model = SQAIR(SQAIRConfig(**small, prop_prior="rnn", sequential_propagation=sequential))
        out = model(torch.rand(2, 3, 24, 24), 2)
        assert torch.isfinite(out.log_weights).all()
        out.log_weights.sum().backward()
        assert float(model.prior_rnn.weight_ih.grad.abs().sum()) > 0  # the prior GRU is trained
        frames, states, _ = model.generate(2, 3, return_states=True)
        assert frames.shape == (2, 3, 24, 24) and states[-1].prior_h.shape == (2, 2, 16)
    with pytest.raises(InputError, match="prop_prior must be state or rnn"):
        SQAIRConfig(prop_prior="gru")
