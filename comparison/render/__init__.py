"""Renderers: each format a pure function of one Report."""
