"""Vendor the UI's browser assets from the npm registry at image build time.

Usage: python3 fetch_assets.py assets.json OUT_DIR [REGISTRY]

Each package's tarball is checked against its pinned sha512 integrity (npm's own lock-file
format) before any file is extracted, so a build never ships an asset it did not pin.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

DEFAULT_REGISTRY = "https://registry.npmjs.org"


def tarball_url(registry: str, name: str, version: str) -> str:
    """npm's tarball address: ``@scope/pkg`` -> ``@scope/pkg/-/pkg-1.0.0.tgz``."""
    return f"{registry}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def check_integrity(data: bytes, integrity: str, what: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"fetch_assets: {what} does not match its pinned {algorithm} integrity")


def vendor(package: dict, out: Path, registry: str) -> None:
    url = tarball_url(registry, package["name"], package["version"])
    if not url.startswith(("https://", "http://")):
        raise SystemExit(f"fetch_assets: {registry} is not an http(s) registry")
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (scheme checked)
        data = response.read()
    check_integrity(data, package["integrity"], url)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for inner, target in package["files"].items():
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"fetch_assets: {url} has no file {inner}")
            (out / target).write_bytes(member.read())


def main(argv: list[str]) -> None:
    if len(argv) not in (3, 4):
        raise SystemExit("usage: fetch_assets.py assets.json OUT_DIR [REGISTRY]")
    spec = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    registry = argv[3] if len(argv) == 4 else DEFAULT_REGISTRY
    for package in spec["packages"]:
        vendor(package, out, registry.rstrip("/"))
        print(f"fetch_assets: {package['name']}@{package['version']}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
