"""API shapes (XPublic / XsPublic), kept apart from domain and table models."""
