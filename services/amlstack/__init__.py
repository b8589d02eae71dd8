"""amlstack: offline AutoML, a verified model artifact, a keyed scoring container, Compose and Azure ML."""

__version__ = "0.1.0"
