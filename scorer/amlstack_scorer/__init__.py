"""The amlstack scoring service: serves one model artifact over HTTP (Azure ML's contract)."""

__version__ = "0.1.0"
