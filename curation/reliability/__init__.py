"""Reliability tooling: the soak run (``python -m curation.reliability.soak``)."""
