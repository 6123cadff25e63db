"""FastAPI app: webhook ingress, REST API, auth. Thin: parse, authorize, call, map errors."""
