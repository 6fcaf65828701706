"""CCTV model settings: :func:`cctv_config` and the size rules that scale the model to the size
of the people on the canvas (:func:`size_factor`, :func:`likelihood_sigma`)."""

from __future__ import annotations

from attentrack.tracker.sqair.config import SQAIRConfig

#: window area (canvas pixels) of the people the CCTV recipe was developed on: about 8 x 20
#: (TUD-Campus and TUD-Stadtmitte at 80x60, whose blob priors give 9 x 22 and 8 x 20)
REFERENCE_WINDOW_AREA = 160.0
#: likelihood standard deviation for objects at least that large (the Moving MNIST model's)
BASE_SIGMA = 0.3
#: smallest standard deviation the size rule gives (objects of a few canvas pixels)
MIN_SIGMA = 0.05


def size_factor(window_w: float, window_h: float) -> float:
    """How much smaller than the reference people a ``window_w x window_h`` canvas-pixel
    window is, as a length ratio: ``sqrt(area / REFERENCE_WINDOW_AREA)``, at most 1."""
    area = max(float(window_w) * float(window_h), 1e-6)
    return min(1.0, (area / REFERENCE_WINDOW_AREA) ** 0.5)


def likelihood_sigma(window_w: float, window_h: float) -> float:
    """The pixel likelihood's standard deviation for objects of a ``window_w x window_h``
    canvas-pixel window.

    An object's evidence (how many nats rendering it gains) grows with its area over
    ``sigma ** 2``, while what it costs (its presence and ``what``/``where`` codes) does not
    depend on its size. People a third as tall (a wider view) cover a ninth of the pixels and
    never pay for themselves at the size-independent ``sigma`` of 0.3: discovery switches off
    within the first steps of a fit and no one is ever found. So below
    :data:`REFERENCE_WINDOW_AREA` ``sigma`` shrinks with the square root of the window area,
    keeping a prior-sized object's evidence what it is at the reference size; at or above it
    ``sigma`` is :data:`BASE_SIGMA`. Never below :data:`MIN_SIGMA`.
    """
    return max(MIN_SIGMA, BASE_SIGMA * size_factor(window_w, window_h))


def cctv_config(width: int = 80, height: int = 60, max_objects: int = 8, scale_prior: float = 0.15,
                aspect_prior: float = 2.2, disc_pres_prior: float = 1e-3, sigma: float | None = None) -> SQAIRConfig:
    """Model settings for pedestrians seen by a static camera at a reduced resolution.

    The default window prior is for upright people near the camera (street level): about 0.15
    of the frame wide and 2.2 times as tall as wide; :func:`blob_shape_prior` measures it on
    the camera's own foreground instead. Windows are anchored (``anchor``): discovery on the
    residual's peak, propagation on the centroid of the foreground left inside the object's
    last window; people are a tenth of the canvas wide, too small for the original's
    position networks to find in minutes of fitting. Propagation is sequential
    (``sequential_propagation``): people overlap and change shape every frame, so each
    object explains away its part of the frame before the next reads it and re-reads its
    appearance through the discovery coder. Small glimpses and hidden layers keep fitting to
    minutes on a CPU.

    People smaller than the reference (about 8 x 20 canvas pixels) get the reference's model
    scaled down to their size: ``sigma`` (the likelihood's standard deviation) is
    :func:`likelihood_sigma` of the prior window unless given, and the window shifts' initial
    posterior noise shrinks by :func:`size_factor` (``shift_init_factor``). Without both, a
    fit on people a third the reference's height (a wider view of TUD-Stadtmitte) never
    discovers anyone.
    """
    win_w = scale_prior * width  # the prior window in canvas pixels
    win_h = win_w * aspect_prior
    if sigma is None:
        sigma = likelihood_sigma(win_w, win_h)
    return SQAIRConfig(height=height, width=width, max_objects=max_objects, glimpse=12, what_dim=16,
                       hidden=96, sigma=sigma, disc_pres_prior=disc_pres_prior, scale_prior=scale_prior,
                       scale_prior_std=0.5, aspect_prior=aspect_prior, shift_prior_std=0.6, anchor=True,
                       sequential_propagation=True, shift_init_factor=size_factor(win_w, win_h))
