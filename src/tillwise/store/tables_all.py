"""Imports every table module so they are all registered on :data:`metadata`."""

from tillwise.store import tables, tables_governance, tables_pipeline  # noqa: F401
