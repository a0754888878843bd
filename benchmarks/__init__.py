"""Reproducible measurements of the collection (make bench); each prints a table."""
