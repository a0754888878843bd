"""Tintri VMstore and Tintri Global Center REST API v310 simulator (see README.md)."""

from .lab import TintriLab

__all__ = ["TintriLab"]
