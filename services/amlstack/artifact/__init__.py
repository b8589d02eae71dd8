"""The model artifact contract: the one place that knows an artifact's format.

Training writes artifacts and the scorer, the pipeline and Azure read them through this package;
it imports nothing else from amlstack, so every other floor can stand on it.
"""
