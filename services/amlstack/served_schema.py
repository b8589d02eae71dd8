"""What a scorer's /swagger.json says about the served model's input, with the standard library.

Shared by `amlstack score` (its default payload) and the Locust workload (loadtest/workload.py).
The Locust image copies this file without the rest of the package, so it imports nothing else
from amlstack and nothing outside the standard library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

SWAGGER_ROUTE = "/swagger.json"


class SchemaError(ValueError):
    """The endpoint's swagger.json cannot be fetched or does not describe the model's input."""


def swagger_url(base_url: str) -> str:
    """The swagger.json under a scorer's base URL (where /score is)."""
    return base_url.rstrip("/") + SWAGGER_ROUTE


def fetch(url: str, headers: Mapping[str, str] | None = None, timeout: float = 30) -> dict:
    """GET a swagger.json; SchemaError with one line when it is unreachable or not JSON."""
    if not url.startswith(("http://", "https://")):
        raise SchemaError(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 (http(s) only)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise SchemaError(f"{url} answered {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read {url}: {exc}") from None
    if not isinstance(doc, dict):
        raise SchemaError(f"{url} is not a JSON object")
    return doc


def input_fields(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The served model's fields (name -> JSON schema, each with an ``example``), in order."""
    try:
        fields = doc["definitions"]["InputRecord"]["properties"]
        if not fields or not all(isinstance(s, dict) and "example" in s for s in fields.values()):
            raise TypeError
    except (KeyError, TypeError, AttributeError):
        raise SchemaError("the swagger.json has no InputRecord with an example per field") from None
    return dict(fields)


def example_record(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The documented example record: each field's typical training value."""
    return {name: spec["example"] for name, spec in input_fields(doc).items()}


def numeric_fields(doc: Mapping[str, Any]) -> list[str]:
    """The fields the model reads as numbers (a text value there is refused with 422)."""
    return [name for name, spec in input_fields(doc).items() if spec.get("type") == "number"]


def classes(doc: Mapping[str, Any]) -> list[str]:
    """The labels the endpoint answers with (ServiceOutput's predictions enum)."""
    try:
        labels = doc["definitions"]["ServiceOutput"]["properties"]["predictions"]["items"]["enum"]
    except (KeyError, TypeError):
        raise SchemaError("the swagger.json does not list the model's classes") from None
    return [str(label) for label in labels]
