"""The gateway's routes, one module per group of endpoints."""
