"""The hyper-parameters of SQAIR (:class:`SQAIRConfig`), stored with its weights as a dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from attentrack.tracker.errors import InputError
from attentrack.tracker.sqair.modules import DECODER_OUTPUTS, GLIMPSE_DECODERS

#: the priors on the number of new objects per frame (``SQAIRConfig.disc_prior``)
DISCOVERY_PRIORS = ("bernoulli", "categorical")
#: the priors on a new object's ``where`` (``SQAIRConfig.where_prior``)
WHERE_PRIORS = ("fixed", "conditioned")
#: what the learned propagation prior reads (``SQAIRConfig.prop_prior``)
PROPAGATION_PRIORS = ("state", "rnn")


@dataclass
class SQAIRConfig:
    """Hyper-parameters of :class:`attentrack.tracker.sqair.model.SQAIR`.

    Attributes:
        height, width: canvas size in pixels.
        max_objects: object slots per frame.
        glimpse: glimpse side in pixels (read and written).
        what_dim: appearance code size.
        hidden: hidden units of every MLP and GRU (except the appearance path's, below).
        glimpse_hidden: hidden units of the appearance path: the glimpse decoder, both glimpse
            encoders and both ``what`` heads (0: ``hidden``). These layers decide how sharply one
            object renders a digit; a model trained with fewer can be grown into more without
            changing what it computes (:func:`attentrack.tracker.sqair.widen.widen_appearance`).
        sigma: standard deviation of the Gaussian pixel likelihood (intensities 0-1).
        disc_pres_prior: prior probability that discovery adds one more object (with
            ``disc_prior="bernoulli"``).
        disc_prior: the prior on how many new objects discovery adds to a frame's free slots.
            ``bernoulli`` (this repository's): one more object with the fixed probability
            ``disc_pres_prior``, in every frame alike, so at 1e-8 every object costs about 18
            nats in the frame that finds it, the first frame included. ``categorical`` (the
            original's ``disc_prior_type='cat'``): a learned categorical over the number of new
            objects ``0..max_objects`` (logits passed through ELU, as there), truncated to the
            free slots and renormalised, with a learned bonus on "no new object" added only
            after the first frame (initialised to ``disc_count_bonus``): the first frame's
            objects cost what their learned frequency says, later discoveries are dear.
        disc_count_bonus: initial value of the ``categorical`` prior's bonus on the logit of
            "no new object" after the first frame (10 in the original).
        prop_pres_prior: fixed prior probability that propagation keeps an object (0: a
            learned prior, as in the original). A learned prior soon says "keep" almost surely,
            so an object costs prior mass only in the frame that discovers it while it earns
            likelihood in every frame: a second object on a digit's blurry residual pays for
            itself within a frame or two and is kept for good. A small fixed value (e.g.
            ``1e-8``, about 18 nats, the same as ``disc_pres_prior``) charges every object
            again in every frame, like AIR's prior on the number of objects per image.
        scale_prior: prior mean of an object's window side, as a fraction of the canvas.
        scale_prior_std: prior standard deviation of the logit window side.
        aspect_prior: prior mean of window height / window width (in pixels).
        shift_prior_std: prior standard deviation of the window centre (normalised units).
        anchor: centre each discovery step's ``where`` posterior on the peak of the
            unexplained residual, and each propagated object's on the peak of the frame
            nearest its last position (see :mod:`attentrack.tracker.sqair.anchors`); the
            networks then predict offsets from these anchors. For small objects (CCTV), whose positions networks
            over the whole image are slow to learn; off in the original model.
        sequential_propagation: propagate the objects one after another, each reading the
            frame minus the objects propagated before it (explaining away, as discovery
            does), its window anchored (with ``anchor``) on the intensity centroid of that
            residual inside its last window, and its ``what`` posterior centred on the
            discovery coder's reading of its glimpse plus a learned correction. Without it
            objects that overlap all read the same intensity and propagation cannot keep up
            with appearance that changes every frame (walking people); off in the original.
        shift_init_factor: multiplies the initial posterior standard deviation of the window
            shifts (discovery 0.3, propagation 0.1, in normalised canvas units: 12 and 4 pixels
            on an 80-pixel-wide canvas). Only the initialisation: with objects a few pixels
            wide (CCTV, :func:`attentrack.tracker.sqair.cctv.config.cctv_config`) a window drawn that far off
            misses its object, so early objects explain nothing and discovery is switched off
            before it has learned where to look.
        decoder: the glimpse decoder: ``mlp`` (the original's: two hidden layers, one output unit
            per pixel) or ``conv`` (a transposed convolution,
            :class:`attentrack.tracker.sqair.modules.ConvGlimpseDecoder`; the glimpse side must
            be even).
        decoder_output: how the glimpse decoder's last layer becomes intensities: ``sigmoid``
            (this repository's: in ``[0, 1]``, objects start faint) or ``scaled`` (the original's:
            unsquashed, times one learned scale that starts at 0.25; objects start empty). The
            original also has an optional learned mean image added under the objects, which its
            Moving MNIST configuration leaves out, and so does this option.
        prop_prior: what the learned propagation prior (the ``where`` and ``what`` steps of a kept
            object, and the keep probability unless ``prop_pres_prior`` fixes it) reads: ``state``
            (this repository's: each object's temporal GRU state, which has read the past frames)
            or ``rnn`` (the original's: a GRU of its own over the object's past ``what`` and
            ``where`` only, started from zero when the object is discovered, so the prior is a
            transition of the latents as in a state-space model). The same heads read either.
        glimpse_mask: propagation multiplies each object's glimpse by a mask in ``(0, 1)`` computed
            from the object's temporal GRU state (an MLP, sigmoid output, one value per glimpse
            pixel) before encoding it, as the original's propagation does, so an object can learn to
            ignore a neighbour that enters its window. The mask starts at 0.9975 everywhere
            (``sigmoid(6)``, last layer's weights zero), so a model fine-tuned from weights without
            it starts from almost the same function. Off in this repository's shipped weights.
        relational: with ``sequential_propagation``, a GRU runs over the objects in slot order
            while they are propagated (the original's relational RNN across objects); its state
            after the objects before one (their ``what``, ``where`` and presence) shifts that
            object's ``where`` and ``what`` posterior means through an MLP whose last layer
            starts at zero, so a model fine-tuned from weights without it starts from the same
            function. Each object then knows where the objects propagated before it went.
        where_prior: the prior of a new object's ``where``: ``fixed`` (this repository's: one
            Normal set by ``scale_prior``, ``aspect_prior``, ``scale_prior_std`` and
            ``shift_prior_std``, the same in every frame) or ``conditioned`` (the original's:
            that Normal's mean and log standard deviation shifted by an MLP of a summary of the
            objects propagated into the frame, the sum over present objects of an embedding of
            their ``what`` and ``where``; the MLP's last layer starts at zero, so it starts as
            ``fixed``). A conditioned prior can learn where new objects appear given the old
            ones (not on top of them, or entering at the edges).
        clip_canvas: the rendered frame is the sum of the objects clipped to 1, as Moving
            MNIST's frames are (overlapping ink is summed and clipped), instead of the plain
            sum, under which two overlapping objects over-explain their overlap and are
            pushed to leave a hole there. Off in the original; fine-tuning the Moving MNIST
            weights with it did not count better (see the model card).
    """

    height: int = 50
    width: int = 50
    max_objects: int = 3
    glimpse: int = 20
    what_dim: int = 50
    hidden: int = 128
    glimpse_hidden: int = 0
    sigma: float = 0.3
    disc_pres_prior: float = 1e-3
    disc_prior: str = "bernoulli"
    disc_count_bonus: float = 10.0
    prop_pres_prior: float = 0.0
    scale_prior: float = 0.6
    scale_prior_std: float = 0.3
    aspect_prior: float = 1.0
    shift_prior_std: float = 0.6
    anchor: bool = False
    sequential_propagation: bool = False
    clip_canvas: bool = False
    shift_init_factor: float = 1.0
    decoder: str = "mlp"
    decoder_output: str = "sigmoid"
    prop_prior: str = "state"
    glimpse_mask: bool = False
    relational: bool = False
    where_prior: str = "fixed"

    def __post_init__(self) -> None:
        if not 0.0 < float(self.disc_pres_prior) < 1.0:
            raise InputError(f"disc_pres_prior must lie strictly between 0 and 1, got {self.disc_pres_prior}")
        if self.disc_prior not in DISCOVERY_PRIORS:
            raise InputError(f"disc_prior must be one of {', '.join(DISCOVERY_PRIORS)}, got {self.disc_prior!r}")
        if not 0.0 <= float(self.prop_pres_prior) < 1.0:
            raise InputError(f"prop_pres_prior must be 0 (learned) or lie strictly between 0 and 1, got {self.prop_pres_prior}")
        if int(self.glimpse_hidden) < 0:
            raise InputError(f"glimpse_hidden must be 0 (= hidden) or positive, got {self.glimpse_hidden}")
        if self.decoder not in GLIMPSE_DECODERS:
            raise InputError(f"decoder must be one of {', '.join(GLIMPSE_DECODERS)}, got {self.decoder!r}")
        if self.prop_prior not in PROPAGATION_PRIORS:
            raise InputError(f"prop_prior must be {' or '.join(PROPAGATION_PRIORS)}, got {self.prop_prior!r}")
        if self.decoder_output not in DECODER_OUTPUTS:
            raise InputError(f"decoder_output must be one of {', '.join(DECODER_OUTPUTS)}, got {self.decoder_output!r}")
        if self.decoder == "conv" and int(self.glimpse) % 2:
            raise InputError(f"the conv decoder needs an even glimpse side, got {self.glimpse}")
        if self.where_prior not in WHERE_PRIORS:
            raise InputError(f"where_prior must be one of {', '.join(WHERE_PRIORS)}, got {self.where_prior!r}")
        if self.relational and not self.sequential_propagation:
            raise InputError("relational needs sequential_propagation (the objects are related in slot order)")
        if not 0.0 < float(self.shift_init_factor) <= 1.0:
            raise InputError(f"shift_init_factor must lie in (0, 1], got {self.shift_init_factor}")

    @property
    def appearance_hidden(self) -> int:
        """Hidden units of the appearance path (``glimpse_hidden``, or ``hidden`` when 0)."""
        return int(self.glimpse_hidden) or self.hidden

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict (the weights file's ``config``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SQAIRConfig":
        """Settings from :meth:`to_dict`'s output; an unknown setting is an :class:`InputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown SQAIR setting(s): {', '.join(unknown)}")
        return cls(**data)
