"""Model-facing helpers (LLM providers, PII tokenization, retrieval) — used from the governance issue on."""
