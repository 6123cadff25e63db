"""Stock accuracy: a store's physical count against the book, proposed as a stock adjustment."""

from .workflow import StockCountCheck

__all__ = ["StockCountCheck"]
