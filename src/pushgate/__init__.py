"""pushgate: two-factor login by push approval, delivered in real time."""

__version__ = "0.1.0"
