"""Model-facing helpers: LLM providers, PII tokenization, retrieval (from issue 3 on)."""
