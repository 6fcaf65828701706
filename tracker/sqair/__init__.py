"""SQAIR: unsupervised multi-object detection and tracking (Kosiorek et al., NeurIPS 2018).

* :mod:`attentrack.tracker.sqair.config`: the hyper-parameters (:class:`SQAIRConfig`).
* :mod:`attentrack.tracker.sqair.model`: the model, per-step propagate/discover with typed
  states, and its weights files.
* :mod:`attentrack.tracker.sqair.modules`: spatial transformer read/write, Gaussian heads,
  glimpse decoders.
* :mod:`attentrack.tracker.sqair.anchors`: anchoring heuristics of the ``where`` posteriors.
* :mod:`attentrack.tracker.sqair.readout`: pixel boxes of the inferred objects.
* :mod:`attentrack.tracker.sqair.losses`: IWAE bound and VIMCO, built outside the model.
* :mod:`attentrack.tracker.sqair.train` (Moving MNIST training with a curriculum),
  :mod:`attentrack.tracker.sqair.pretrain` (glimpse pre-training) and
  :mod:`attentrack.tracker.sqair.widen` (growing the appearance path).
* :mod:`attentrack.tracker.sqair.evaluate`: counting and tracking scores on Moving MNIST.
* :mod:`attentrack.tracker.sqair.cctv`: static-camera mode (background, foreground canvas,
  fitting, online tracking), one module per job.
"""
