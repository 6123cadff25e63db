"""Imports every table module so they are all registered on :data:`metadata`."""

from tillwise.store import (  # noqa: F401
    tables,
    tables_governance,
    tables_pipeline,
    tables_replenishment,
    tables_risk,
)
