"""nnstudy: a lab for the fundamentals of deep learning, built on PyTorch."""

__version__ = "0.1.0"
