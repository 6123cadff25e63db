"""Placeholder until the owning part lands."""

from tillwise.store.metadata import metadata  # noqa: F401
