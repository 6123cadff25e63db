"""Tillwise: the AI layer beside a retailer's point of sale."""

__version__ = "0.1.0"
