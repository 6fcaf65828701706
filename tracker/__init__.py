"""attentrack's tracking core: frame sources, sinks, the streaming pipeline, the tracker
registry and trackers (HART, MIL, static), attention (glimpse readers), backbones and
metrics. Boxes are ``x, y, w, h`` in pixels unless a name says otherwise."""
