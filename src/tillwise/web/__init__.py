"""The dashboard: a static HTML + JavaScript app served beside the API (see routes.py)."""
