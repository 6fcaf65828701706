"""Generative models of images with attention."""
