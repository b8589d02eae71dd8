"""The scorer's settings: one typed, frozen object read from ``AMLSTACK_*`` variables."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from amlstack_scorer import contract as c

WORKERS_ENV = c.ENV_PREFIX + "WORKERS"
THREADS_ENV = c.ENV_PREFIX + "THREADS"
WORKER_CLASS_ENV = c.ENV_PREFIX + "WORKER_CLASS"
HOST_ENV = c.ENV_PREFIX + "HOST"
PORT_ENV = c.ENV_PREFIX + "PORT"
TIMEOUT_ENV = c.ENV_PREFIX + "TIMEOUT"
REQUEST_DEADLINE_ENV = c.ENV_PREFIX + "REQUEST_DEADLINE_S"
MIN_DEADLINE_S = 0.1
GRACEFUL_TIMEOUT_ENV = c.ENV_PREFIX + "GRACEFUL_TIMEOUT"
MAX_REQUESTS_ENV = c.ENV_PREFIX + "MAX_REQUESTS"
MAX_BATCH_ENV = c.ENV_PREFIX + "MAX_BATCH"
MAX_BODY_ENV = c.ENV_PREFIX + "MAX_BODY_BYTES"
GENERATE_KEYS_ENV = c.ENV_PREFIX + "GENERATE_KEYS"
CORS_ENV = c.ENV_PREFIX + "CORS_ORIGINS"
LOG_LEVEL_ENV = c.ENV_PREFIX + "LOG_LEVEL"
ACCESS_LOG_ENV = c.ENV_PREFIX + "ACCESS_LOG"
# Addresses (IPs or CIDR ranges, comma-separated) whose X-Forwarded-Proto/Host are believed.
TRUSTED_PROXIES_ENV = c.ENV_PREFIX + "TRUSTED_PROXIES"
# Ed25519 public key (PEM file path, PEM text or base64): the artifact's manifest must be signed.
MANIFEST_PUBLIC_KEY_ENV = c.ENV_PREFIX + "MANIFEST_PUBLIC_KEY"
AZUREML_MODEL_DIR_ENV = "AZUREML_MODEL_DIR"  # set by Azure ML on managed online endpoints

DEFAULT_CORS = ("http://localhost:8080", "http://127.0.0.1:8080")  # the Swagger UI container
MIN_KEY_LENGTH = 16
# The most records one request may hold: 1000x the default; a larger AMLSTACK_MAX_BATCH (one
# beyond 2**63) stopped every worker's boot with a traceback from the request decoder.
MAX_BATCH_LIMIT = 10_000_000
WORKER_CLASSES = ("sync", "gthread")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

T = TypeVar("T")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting has a bad value; the message starts with the variable's name."""


@dataclass(frozen=True)
class Settings:
    """Everything the scorer reads from its environment, checked once at start."""

    model_dir: Path | None = None
    host: str = "0.0.0.0"
    port: int = c.DEFAULT_PORT
    workers: int = c.DEFAULT_WORKERS
    threads: int = c.DEFAULT_THREADS
    worker_class: str = c.DEFAULT_WORKER_CLASS
    timeout_s: int = c.DEFAULT_TIMEOUT_S
    request_deadline_s: float = c.DEFAULT_REQUEST_DEADLINE_S  # 0: no deadline
    graceful_timeout_s: int = c.DEFAULT_TIMEOUT_S
    max_requests: int = 100_000
    max_batch: int = c.DEFAULT_MAX_BATCH
    max_body_bytes: int = c.DEFAULT_MAX_BODY_BYTES
    auth: str = "key"
    primary_key: str | None = field(default=None, repr=False)
    secondary_key: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    generate_keys: bool = False
    cors_origins: tuple[str, ...] = DEFAULT_CORS
    log_level: str = "INFO"
    access_log: bool = True
    appinsights_connection_string: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[Network, ...] = ()
    manifest_public_key: str | None = field(default=None, repr=False)

    def public_key(self):
        """The loaded manifest key (None: signatures are not checked); SettingsError if bad."""
        if not self.manifest_public_key:
            return None
        from amlstack.artifact.manifest import ArtifactError, load_public_key

        try:
            return load_public_key(self.manifest_public_key)
        except (ValueError, OSError, ArtifactError) as exc:
            raise SettingsError(f"{MANIFEST_PUBLIC_KEY_ENV}: {exc}") from None

    @property
    def auth_enabled(self) -> bool:
        return self.auth == "key"

    def trusts_proxy(self, address: str | None) -> bool:
        """Whether a request from ``address`` may say how the client reached us (X-Forwarded-*)."""
        if not self.trusted_proxies or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable; raise SettingsError naming the first bad one."""
        env = os.environ if env is None else env
        r = _Reader(env)
        settings = cls(
            model_dir=_model_dir(env),
            host=r.host(HOST_ENV, cls.host),
            port=r.integer(PORT_ENV, cls.port, low=1, high=65535),
            workers=r.integer(WORKERS_ENV, cls.workers, low=1, high=64),
            threads=r.integer(THREADS_ENV, cls.threads, low=1, high=256),
            worker_class=r.choice(WORKER_CLASS_ENV, cls.worker_class, WORKER_CLASSES),
            timeout_s=r.integer(TIMEOUT_ENV, cls.timeout_s, low=1, high=3600),
            request_deadline_s=r.deadline(REQUEST_DEADLINE_ENV, cls.request_deadline_s),
            graceful_timeout_s=r.integer(GRACEFUL_TIMEOUT_ENV, cls.graceful_timeout_s, low=1),
            max_requests=r.integer(MAX_REQUESTS_ENV, cls.max_requests, low=0),
            max_batch=r.integer(MAX_BATCH_ENV, cls.max_batch, low=1, high=MAX_BATCH_LIMIT),
            max_body_bytes=r.integer(MAX_BODY_ENV, cls.max_body_bytes, low=1024),
            auth=r.choice(c.AUTH_ENV, cls.auth, ("key", "none")),
            primary_key=r.key(c.PRIMARY_KEY_ENV),
            secondary_key=r.key(c.SECONDARY_KEY_ENV),
            key_file=r.path(c.KEY_FILE_ENV),
            generate_keys=r.flag(GENERATE_KEYS_ENV, cls.generate_keys),
            cors_origins=r.origins(CORS_ENV, cls.cors_origins),
            log_level=r.choice(LOG_LEVEL_ENV, cls.log_level, LOG_LEVELS, upper=True),
            access_log=r.flag(ACCESS_LOG_ENV, cls.access_log),
            appinsights_connection_string=env.get(c.APPINSIGHTS_ENV) or None,
            trusted_proxies=r.networks(TRUSTED_PROXIES_ENV),
            manifest_public_key=r.text(MANIFEST_PUBLIC_KEY_ENV, "") or None,
        )
        settings.check_auth()
        settings.public_key()  # a bad key stops the scorer at start, naming the variable
        return settings

    def check_auth(self) -> None:
        """Refuse to run without keys unless the opt-out is explicit."""
        if not self.auth_enabled:
            return
        if self.secondary_key and not self.primary_key:
            raise SettingsError(f"{c.SECONDARY_KEY_ENV}: set {c.PRIMARY_KEY_ENV} as well")
        if self.primary_key or self.key_file:
            return
        raise SettingsError(
            f"{c.AUTH_ENV}: key auth is on but no key is configured; set {c.PRIMARY_KEY_ENV} "
            f"(and {c.SECONDARY_KEY_ENV}), or {c.KEY_FILE_ENV} (with {GENERATE_KEYS_ENV}=1 to "
            f"create it), or run without keys on purpose with {c.AUTH_ENV}=none"
        )

    @property
    def bind(self) -> str:
        """``host:port`` as gunicorn reads it: an IPv6 address in brackets (``::1`` bare was
        read as host ``::1``'s port '', and ``0:0:0:0:0:0:0:1`` as every interface)."""
        return host_port(self.host, self.port)

    def require_model_dir(self) -> Path:
        if self.model_dir is None:
            raise SettingsError(f"{c.MODEL_DIR_ENV}: not set; point it at an artifact directory")
        return self.model_dir


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets, for a bind or a URL."""
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{host}:{port}"


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a scoring key (None: it can), without echoing it. A key travels in
    an HTTP header: a character outside printable ASCII reaches the scorer as other bytes from
    one client than from another (curl sends UTF-8, requests Latin-1), so no key check could
    match it for every client, and a blank around it is lost on the way."""
    if len(key) < MIN_KEY_LENGTH:
        return f"keys must be at least {MIN_KEY_LENGTH} characters"
    return header_problem(key)


def header_problem(key: str) -> str | None:
    """Why no HTTP header carries ``key`` alike from every client (None: one does); clients
    (`amlstack score`, `drift`, `loadtest`) check it before sending, without echoing it."""
    if not all(" " <= ch <= "~" for ch in key) or key != key.strip():
        return (
            "keys must be printable ASCII (letters, digits, punctuation) with no blank at "
            "either end: an HTTP header carries them"
        )
    return None


def _model_dir(env: Mapping[str, str]) -> Path | None:
    # On Azure ML the registered model is mounted under AZUREML_MODEL_DIR; a relative
    # AMLSTACK_MODEL_DIR is resolved against it so the deployment YAML needs no absolute path.
    raw = env.get(c.MODEL_DIR_ENV, "").strip()
    azure_root = env.get(AZUREML_MODEL_DIR_ENV, "").strip()
    if not raw:
        return Path(azure_root) if azure_root else None
    path = Path(raw)
    if not path.is_absolute() and azure_root:
        path = Path(azure_root) / path
    return path


class _Reader:
    """Typed getters over an environment mapping; every failure names its variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def _get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        return parse(raw.strip())

    def text(self, name: str, default: str) -> str:
        return self._get(name, default, str)

    def integer(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        def parse(raw: str) -> int:
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f">= {low}"
                raise SettingsError(f"{name}: must be {bound}, got {value}")
            return value

        return self._get(name, default, parse)

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        def parse(raw: str) -> float:
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
            if not low <= value <= high:  # NaN fails this too
                raise SettingsError(f"{name}: must be between {low:g} and {high:g}, got {raw}")
            return value

        return self._get(name, default, parse)

    def deadline(self, name: str, default: float) -> float:
        """Seconds: 0 for none, else at least MIN_DEADLINE_S (a shorter one answers 408 to
        every request, /ready too, so the container never turns healthy)."""
        value = self.number(name, default, low=0.0, high=3600.0)
        if 0 < value < MIN_DEADLINE_S:
            raise SettingsError(
                f"{name}: 0 (no deadline) or at least {MIN_DEADLINE_S:g} seconds, got {value:g}"
            )
        return value

    def choice(
        self, name: str, default: str, allowed: tuple[str, ...], *, upper: bool = False
    ) -> str:
        def parse(raw: str) -> str:
            value = raw.upper() if upper else raw.lower()
            if value not in allowed:
                raise SettingsError(f"{name}: must be one of {', '.join(allowed)}; got {raw!r}")
            return value

        return self._get(name, default, parse)

    def flag(self, name: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            value = raw.lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{name}: expected 1/0, true/false, yes/no or on/off; got {raw!r}")

        return self._get(name, default, parse)

    def host(self, name: str, default: str) -> str:
        """An IP address or a host name to bind (gunicorn retried a bad one for seconds, then
        said only "Can't connect to ('not a host', 5001)")."""

        def parse(raw: str) -> str:
            try:
                ipaddress.ip_address(raw.strip("[]"))
                return raw
            except ValueError:
                pass
            labels = raw.rstrip(".").split(".")
            numeric = all(label.isdigit() for label in labels)  # 999.1.1.1: no address
            if (
                numeric
                or len(raw) > 253
                or not all(_HOST_LABEL.fullmatch(label) for label in labels)
            ):
                raise SettingsError(
                    f"{name}: {raw!r} is not an IP address or host name to bind "
                    "(0.0.0.0: every interface; 127.0.0.1: this machine only)"
                )
            return raw

        return self._get(name, default, parse)

    def key(self, name: str) -> str | None:
        def parse(raw: str) -> str:
            problem = key_problem(raw)
            if problem:  # never echo the value: it is a secret, even a bad one
                raise SettingsError(f"{name}: {problem}")
            return raw

        return self._get(name, None, parse)

    def path(self, name: str) -> Path | None:
        return self._get(name, None, Path)

    def origins(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        def parse(raw: str) -> tuple[str, ...]:
            origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
            for origin in origins:
                if origin == "*":
                    raise SettingsError(f"{name}: '*' is not allowed; list the origins")
                if not origin.startswith(("http://", "https://")):
                    raise SettingsError(f"{name}: {origin!r} is not an http(s) origin")
            return origins

        return self._get(name, default, parse)

    def networks(self, name: str) -> tuple[Network, ...]:
        def parse(raw: str) -> tuple[Network, ...]:
            try:
                return tuple(
                    ipaddress.ip_network(part.strip(), strict=False)
                    for part in raw.split(",")
                    if part.strip()
                )
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc} (list IP addresses or CIDR ranges)") from None

        return self._get(name, (), parse)
