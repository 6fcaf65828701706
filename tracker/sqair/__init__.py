"""SQAIR: unsupervised multi-object detection and tracking (Kosiorek et al., NeurIPS 2018).

:mod:`attentrack.tracker.sqair.model` (the model, per-step propagate/discover with typed states),
:mod:`attentrack.tracker.sqair.modules` (spatial transformer read/write, MLPs),
:mod:`attentrack.tracker.sqair.losses` (IWAE bound and VIMCO, built outside the model),
:mod:`attentrack.tracker.sqair.train` (Moving MNIST training with a curriculum) and
:mod:`attentrack.tracker.sqair.cctv` (static-camera mode: background, foreground canvas, fitting).
"""
