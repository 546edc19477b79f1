"""Typed models of each topology, read from its template once."""
