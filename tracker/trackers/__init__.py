"""Built-in trackers; importing this package registers them."""

from attentrack.tracker.trackers import mil, sqair, static  # noqa: F401

try:  # HART needs its weights and modules; a broken install must not hide the others
    from attentrack.tracker.trackers import hart  # noqa: F401
except ImportError:  # pragma: no cover - only when the hart module is absent
    pass

try:  # the attentional face model (generative.face) ships its own weights
    from attentrack.generative.face import tracker as _face  # noqa: F401
except ImportError:  # pragma: no cover - only when the generative package is absent
    pass
