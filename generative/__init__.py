"""Attention-based generative models: DRAW, alignDRAW and the attentional face model."""
