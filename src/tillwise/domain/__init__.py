"""The canonical model: pure pydantic models and functions, no I/O, no imports from the rest
of tillwise."""
