"""Carto solidaire: offline-first map of local solidarity initiatives."""

__version__ = "0.1.0"
