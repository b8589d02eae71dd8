"""amlstack: offline AutoML, a verified artifact, a keyed scoring container, Compose, Azure ML."""

__version__ = "0.1.0"
