"""The `amlstack` commands of the `# needs Azure` blocks in README.md and docs/azure.md, which no
test can run, are at least complete: every required option is given, every option exists.

README's block once showed `amlstack azure push` and `promote` bare; they failed with
"Missing option" when copied.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from amlstack import cli

REPO = Path(__file__).resolve().parents[3]
FENCE = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NEEDS_AZURE = re.compile(r"^\s*#\s*needs Azure\b", re.MULTILINE | re.IGNORECASE)


def azure_block_commands(path: Path) -> list[str]:
    """Each `amlstack ...` command of the file's `# needs Azure` blocks, as the shell splits
    lines (continuations joined, `&&` and `|` separate commands, comments dropped)."""
    found = []
    for block in FENCE.findall(path.read_text()):
        if not NEEDS_AZURE.search(block):
            continue
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            for part in re.split(r"&&|\|\||\|", line):
                words = shlex.split(part, comments=True)
                while words and "=" in words[0]:  # VAR=value before the command
                    words = words[1:]
                if words[:1] == ["amlstack"]:
                    found.append(shlex.join(words))
    return found


COMMANDS = [
    (path.name, command)
    for path in (REPO / "README.md", REPO / "docs" / "azure.md")
    for command in azure_block_commands(path)
]


def test_the_azure_blocks_have_commands() -> None:
    names = {name for name, _ in COMMANDS}
    assert names == {"README.md", "azure.md"}
    assert any(" azure push " in f"{c} " for _, c in COMMANDS if _ == "README.md")


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_azure_block_command_parses(doc: str, command: str, no_credential: None) -> None:
    """click parses the leaf command: a missing required option or an unknown one fails.
    Shell variables ($ART) stand for values the reader sets."""
    args = [re.sub(r"\$\{?(\w+)\}?", lambda m: f"<{m.group(1)}>", w) for w in shlex.split(command)]
    group = typer.main.get_command(cli.build_app())
    rest = args[1:]
    command_obj = group
    while hasattr(command_obj, "get_command"):
        name, rest = rest[0], rest[1:]
        command_obj = command_obj.get_command(command_obj.context_class(command_obj), name)
        assert command_obj is not None, f"{doc}: no command {name!r} in {command}"
    command_obj.make_context(args[1], rest)
