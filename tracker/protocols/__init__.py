"""Evaluation protocols: experiments that run tracking end to end on real sequences and score
it with :mod:`attentrack.tracker.metrics` (``attentrack eval association`` and ``attentrack eval
pipelines``).

* :mod:`attentrack.tracker.protocols.association` — identity keeping apart from detection:
  degraded ground truth through the multi-object runner.
* :mod:`attentrack.tracker.protocols.pipelines` — whole pipelines (model, proposals, runner)
  side by side, at the recorded view and wider ones.
"""
