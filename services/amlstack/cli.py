"""The `amlstack` command line: one entry point for everything a person runs.

Each command group lives in its own module and registers itself here; heavy libraries are
imported inside the commands so `amlstack --help` stays instant.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from amlstack.errors import InternalError, UserError, bug_line

app = typer.Typer(
    name="amlstack",
    help="Offline AutoML -> verified artifact -> keyed scoring container -> Compose -> Azure ML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

# Modules that define `register(app)`, the commands they add and the extra they need.
COMMAND_MODULES = (
    ("amlstack.commands.model", ("train", "predict", "models"), "train"),
    ("amlstack.commands.serve", ("serve", "score"), None),
    ("amlstack.commands.loadtest", ("loadtest",), "loadtest"),
    ("amlstack.commands.k8s", ("k8s",), "k8s"),
    ("amlstack.commands.azure", ("azure",), "azure"),
    ("amlstack.commands.pipeline", ("pipeline", "registry", "drift"), "train,azure"),
)


def build_app() -> typer.Typer:
    """Register every command group; a group whose extra is not installed still answers."""
    for name, commands, extra in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            for command in commands:
                # Typer renders help as rich markup: "[azure]" would be read as a style tag.
                app.command(command, help=escape(f"(needs: pip install 'amlstack[{extra}]')"))(
                    _missing(command, extra, exc.name)
                )
            continue
        module.register(app)
    return app


def _missing(command: str, extra: str | None, module: str | None):
    def unavailable() -> None:
        raise UserError(
            f"`amlstack {command}` needs the {extra} extra: pip install 'amlstack[{extra}]' "
            f"(missing Python module {module!r})"
        )

    return unavailable


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: every failure is one line and a non-zero exit, never a traceback.

    Anything that is not a user error is a bug: its line says so and names the log file that
    holds the traceback.
    """
    from amlstack.artifact.encoding import CellError
    from amlstack.artifact.manifest import ArtifactError

    try:
        build_app()(args=argv, standalone_mode=True)
    except UserError as exc:
        _error(exc)
        sys.exit(exc.exit_code)
    except (ArtifactError, CellError) as exc:  # the contract's own errors are the user's
        _error(exc)
        sys.exit(UserError.exit_code)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: a network error, a bug
            _error(bug_line(exc))
            sys.exit(InternalError.exit_code)
        # a path that is a folder, not writable, gone: the user's to fix, named
        _error(_path_error(exc))
        sys.exit(UserError.exit_code)
    except Exception as exc:
        _error(bug_line(exc))
        sys.exit(InternalError.exit_code)


def _path_error(exc: OSError) -> str:
    """``path: reason`` (``path -> other: reason`` for a copy or a rename)."""
    where = str(exc.filename) + (f" -> {exc.filename2}" if exc.filename2 else "")
    return f"{where}: {exc.strerror or exc.__class__.__name__}"


def _error(exc: Exception | str) -> None:
    # The message is plain text: brackets in it ("amlstack[azure]") are not markup.
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
