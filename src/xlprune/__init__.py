"""xlprune: rank the attention heads of multilingual encoders, remove some, measure transfer."""

__version__ = "0.1.0"
