"""Turn Azure SDK and Docker exceptions into one clear line for the user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from amlstack.errors import ExternalError, UserError

LOGIN_HINT = (
    "run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET) and retry"
)


def describe(exc: BaseException) -> str:
    """The first meaningful line of an SDK error, with a hint for the usual causes."""
    name = type(exc).__name__
    text = " ".join(str(getattr(exc, "message", None) or exc).split())[:300] or name
    lowered = text.lower()
    if name in ("ClientAuthenticationError", "CredentialUnavailableError"):
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
    """Re-raise Azure SDK failures raised inside the block as ExternalError("what: reason")."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        module = type(exc).__module__
        if module.startswith(("azure.", "msal", "docker.", "requests.", "urllib3.")):
            raise ExternalError(f"{what}: {describe(exc)}") from None
        raise
