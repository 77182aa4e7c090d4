"""The approval service: an Authy-compatible HTTP API."""
