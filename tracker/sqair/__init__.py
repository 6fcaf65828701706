"""SQAIR: unsupervised multi-object detection and tracking (Kosiorek et al., NeurIPS 2018).

:mod:`tracker.sqair.model` (the model, per-step propagate/discover with typed states),
:mod:`tracker.sqair.modules` (spatial transformer read/write, MLPs),
:mod:`tracker.sqair.losses` (IWAE bound and VIMCO, built outside the model),
:mod:`tracker.sqair.train` (Moving MNIST training with a curriculum) and
:mod:`tracker.sqair.cctv` (static-camera mode: background, foreground canvas, fitting).
"""
