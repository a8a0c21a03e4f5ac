"""Levier: order-to-cash for the ADV teams of French service companies."""

__version__ = "0.1.0"
