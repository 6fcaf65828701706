"""Built-in trackers; importing this package registers them."""

from tracker.trackers import mil, static  # noqa: F401

try:  # HART needs its weights and modules; a broken install must not hide the others
    from tracker.trackers import hart  # noqa: F401
except ImportError:  # pragma: no cover - only when the hart module is absent
    pass

from tracker.trackers import sqair  # noqa: F401,E402
