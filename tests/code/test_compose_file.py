"""docker-compose.yml and .env.example agree, and the file builds each image once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


def compose_variables() -> set[str]:
    return set(re.findall(r"\$\{(AMLSTACK_[A-Z0-9_]+)", COMPOSE.read_text()))


def example_settings() -> set[str]:
    return set(re.findall(r"^# (AMLSTACK_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))


def test_every_setting_compose_reads_is_in_env_example_and_none_is_ignored():
    assert compose_variables() - example_settings() == set()  # undocumented
    assert example_settings() - compose_variables() == set()  # no effect


def test_each_image_is_built_by_one_service_and_never_pulled_by_the_others():
    """Compose v2 builds every build section at once (buildx bake): two for one tag fail."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    built = Counter(s["image"] for s in services.values() if "build" in s)
    assert [image for image, n in built.items() if n > 1] == []
    for name, service in services.items():
        if "build" not in service and service["image"] in built:
            assert service.get("pull_policy") == "never", name
