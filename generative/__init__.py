"""Attention-based generative models: DRAW, alignDRAW (and the face model)."""
