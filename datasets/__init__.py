"""Readers, writers and generators of tracking and digit data sets."""
