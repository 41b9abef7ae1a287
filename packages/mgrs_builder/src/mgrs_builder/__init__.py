"""mgrs_builder."""

__version__ = "0.1.0"
