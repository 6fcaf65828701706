"""The attentional face model of Tang, Srivastava and Salakhutdinov (NIPS 2014).

A generative model of faces in a canonical frame (:class:`~attentrack.generative.face.model.FaceVAE`),
a similarity transform that places the face in the image
(:mod:`attentrack.generative.face.transform`), a ConvNet that proposes the transform
(:class:`~attentrack.generative.face.model.Proposer`) and Hamiltonian Monte Carlo over the transform
and the latents (:mod:`attentrack.generative.face.hmc`, :func:`~attentrack.generative.face.localise.refine`).
"""
