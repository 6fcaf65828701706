"""attentrack's tracking core: frame sources, sinks, the streaming pipeline, the registries of
every pluggable kind (:mod:`attentrack.tracker.registry`) and trackers (HART, MIL, SQAIR, static),
attention (glimpse readers), backbones and metrics. Boxes are ``x, y, w, h`` in pixels unless a
name says otherwise. The core imports nothing from :mod:`attentrack.generative` or
:mod:`attentrack.saliency`: their trackers and proposal sources are entry-point plug-ins."""
