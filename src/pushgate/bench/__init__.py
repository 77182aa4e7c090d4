"""The real-time benchmark against the designs pushgate replaces."""
