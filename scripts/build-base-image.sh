#!/usr/bin/env bash
# Build a local Python base image when no container registry can be reached.
#
# A minimal Debian bookworm (python3 3.11 + venv + CA certificates) from debootstrap, imported
# with `docker import`. When PyPI sits behind a TLS-inspecting proxy, the host's CA bundle is
# copied in and PIP_CERT points pip at it, so `pip install` works inside every image built on it.
#
# Usage: scripts/build-base-image.sh [IMAGE_TAG]   (default amlstack/base:bookworm)
# Env:   AMLSTACK_DEBIAN_MIRROR  apt mirror for debootstrap (default: the host's, else deb.debian.org)
#        AMLSTACK_CA_BUNDLE      CA bundle to bake in (default /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail

TAG="${1:-amlstack/base:bookworm}"
SUITE=bookworm
CA_BUNDLE="${AMLSTACK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

host_mirror() {
  # The mirror the host's apt already uses (deb822 or one-line format), so proxies/snapshots work.
  local uri
  uri="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
    | grep -v security | head -n1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | grep -v security | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      | head -n1 || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build-base-image: installing debootstrap" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi

MIRROR="${AMLSTACK_DEBIAN_MIRROR:-$(host_mirror)}"
ROOTFS="$(mktemp -d /tmp/amlstack-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

echo "build-base-image: debootstrap $SUITE from $MIRROR" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR" >/tmp/amlstack-debootstrap.log 2>&1 || {
  tail -n 30 /tmp/amlstack-debootstrap.log >&2
  exit 1
}

# The host's bundle includes any TLS-inspecting proxy's CA that the host trusts.
if [ -f "$CA_BUNDLE" ]; then
  cp "$CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
# Slim it down: apt caches, docs and locales are not needed at run time.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/*

tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
echo "build-base-image: built $TAG" >&2
