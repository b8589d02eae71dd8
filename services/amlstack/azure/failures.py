"""Turn Azure SDK and Docker exceptions into one clear line for the user.

Errors are matched by class (``isinstance`` on the SDKs' own exception types), so a renamed or
subclassed error keeps its meaning and an unrelated bug with a similar name stays a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from amlstack.errors import ExternalError, UserError

LOGIN_HINT = (
    "run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and retry"
)


def external_types() -> tuple[type[BaseException], ...]:
    """The base classes of every failure raised by the services the azure extra talks to.

    Imported lazily (the extra may be missing); a package that is not installed cannot raise.
    """
    found: list[type[BaseException]] = []
    try:
        from azure.core.exceptions import AzureError

        found.append(AzureError)
    except ImportError:
        pass
    try:
        from azure.ai.ml.exceptions import MlException

        found.append(MlException)
    except ImportError:
        pass
    try:
        from docker.errors import DockerException

        found.append(DockerException)
    except ImportError:
        pass
    try:
        from requests import RequestException

        found.append(RequestException)
    except ImportError:
        pass
    return tuple(found)


def _is_credential_error(exc: BaseException) -> bool:
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import CredentialUnavailableError
    except ImportError:
        return False
    return isinstance(exc, ClientAuthenticationError | CredentialUnavailableError)


def describe(exc: BaseException) -> str:
    """The first meaningful line of an SDK error, with a hint for the usual causes."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())[:300] or type(exc).__name__
    lowered = text.lower()
    if _is_credential_error(exc):
        return f"Azure refused or could not find a credential; {LOGIN_HINT}"
    if "quota" in lowered:
        return (
            f"quota exceeded ({text}); request more quota for the VM family "
            "or pick a smaller --instance-type"
        )
    if "authorizationfailed" in lowered or "does not have authorization" in lowered:
        return f"not authorised ({text}); your identity needs the AzureML Data Scientist role"
    return text


@contextmanager
def azure_call(what: str) -> Iterator[None]:
    """Re-raise Azure SDK, Docker and HTTP failures inside the block as ExternalError("what: …").

    Anything else (a bug in amlstack) propagates unchanged.
    """
    try:
        yield
    except UserError:
        raise
    except external_types() as exc:
        raise ExternalError(f"{what}: {describe(exc)}") from None
