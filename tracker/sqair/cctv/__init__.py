"""SQAIR on static-camera (CCTV) video: background, foreground canvas, fitting, tracks.

The model never sees raw pixels: each frame becomes a small single-channel *foreground
canvas* (the foreground mask against an estimated background, shrunk with area averaging
to ``canvas_width x canvas_height``, values 0-1), on which people look like the blobs SQAIR
explains as objects. The background is OpenCV's MOG2 (online) or the per-pixel median of
frames sampled over the whole video (needs the video in advance; best for fitting). A fit
saves its median background with the weights, so tracking later with those weights reads
the same foreground as the fit did, adapting the background slowly to light changes
(``adapt``).

One module per job:

* :mod:`~attentrack.tracker.sqair.cctv.config` — :func:`cctv_config`, the model settings for
  people on a canvas, and the size rules that scale them to smaller people.
* :mod:`~attentrack.tracker.sqair.cctv.blobs` — connected foreground regions of the canvases
  and the window prior measured on them.
* :mod:`~attentrack.tracker.sqair.cctv.canvas` — :class:`ForegroundCanvas`, frames to canvases.
* :mod:`~attentrack.tracker.sqair.cctv.snap` — canvas boxes fitted to the finer foreground mask.
* :mod:`~attentrack.tracker.sqair.cctv.background` — the camera's median background saved with
  the weights and read back.
* :mod:`~attentrack.tracker.sqair.cctv.videos` — recorded videos to canvases (streamed, in
  bounded memory, for fitting), with a warning when the camera seems to move.
* :mod:`~attentrack.tracker.sqair.cctv.fit` — :func:`fit_cctv` fits SQAIR unsupervised on the
  canvases of one or more videos from the same camera (random sub-sequences, curriculum over
  their length, IWAE + VIMCO; resumable through :mod:`attentrack.tracker.sqair.train`).
* :mod:`~attentrack.tracker.sqair.cctv.tracking` — :class:`CanvasTracker` runs the model frame
  by frame (posterior means, or the best of ``K`` samples) and keeps identities; the ``sqair``
  tracker maps its boxes back to full-resolution pixels.
"""
