"""Constants and helpers the scorer tests import (a conftest module is not importable by name
when several test folders each have one)."""

from __future__ import annotations

from amlstack_scorer.settings import Settings

PRIMARY = "primary-key-0123456789abcdef"
SECONDARY = "secondary-key-0123456789abcdef"


def make_settings(**overrides) -> Settings:
    values = {"primary_key": PRIMARY, "secondary_key": SECONDARY, "max_batch": 50}
    values.update(overrides)
    return Settings(**values)
