"""Patchwarden: self-hosted patch management and vulnerability compliance for Linux fleets."""

__version__ = "0.1.0"
