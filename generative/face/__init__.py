"""The attentional face model of Tang, Srivastava and Salakhutdinov (NIPS 2014).

A generative model of faces in a canonical frame (:class:`~generative.face.model.FaceVAE`),
a similarity transform that places the face in the image
(:mod:`generative.face.transform`), a ConvNet that proposes the transform
(:class:`~generative.face.model.Proposer`) and Hamiltonian Monte Carlo over the transform
and the latents (:mod:`generative.face.hmc`, :func:`~generative.face.localise.refine`).
"""
