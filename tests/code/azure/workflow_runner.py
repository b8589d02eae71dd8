"""Read a GitHub Actions workflow the way the runner would: each step's env and command lines.

Only what the workflow test needs: `${{ secrets.X }}` / `${{ vars.X }}` from a simulated
repository configuration (an unset one is the empty string, as on GitHub), `${{ env.X }}`,
`${{ needs.<job>.outputs.<name> }}` and names a step writes to $GITHUB_ENV from known step
outputs, `a || 'literal'` fallbacks, and `$NAME` / `"$NAME"` expansion in the `amlstack`
command lines of each `run:` script.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
GITHUB_ENV_WRITE = re.compile(r"""echo\s+"([A-Za-z_][A-Za-z0-9_]*)=.*>>\s*"?\$GITHUB_ENV""")


@dataclass(frozen=True)
class Step:
    job: str
    index: int
    name: str
    env: dict[str, str]
    run: str
    uses: str


@dataclass(frozen=True)
class Repository:
    """What the repository's settings hold: secrets, variables, and values steps produce."""

    secrets: Mapping[str, str]
    variables: Mapping[str, str]
    outputs: Mapping[str, str]  # step outputs / $GITHUB_ENV values by name


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def evaluate(expression: str, repo: Repository, env: Mapping[str, str]) -> str:
    """One ``${{ }}`` expression, for the forms our workflows use."""
    alternatives = [part.strip() for part in expression.split("||")]
    for part in alternatives:
        value = _operand(part, repo, env)
        if value:
            return value
    return ""


def _operand(part: str, repo: Repository, env: Mapping[str, str]) -> str:
    if part[:1] in "'\"":
        return part.strip("'\"")
    head, _, rest = part.partition(".")
    if head == "secrets":
        return repo.secrets.get(rest, "")
    if head == "vars":
        return repo.variables.get(rest, "")
    if head == "env":
        return env.get(rest, "")
    if head == "needs":
        name = rest.rsplit(".", 1)[-1]
        if name not in repo.outputs:
            raise KeyError(f"no simulated value for job output {part}")
        return repo.outputs[name]
    return ""  # github.*, inputs.*: the event context, empty on a push


def substitute(text: str, repo: Repository, env: Mapping[str, str]) -> str:
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), repo, env), str(text))


def steps(workflow: dict[str, Any], repo: Repository) -> Iterator[Step]:
    """Every step of every job with the environment the runner gives it, in order."""
    top = {k: substitute(v, repo, {}) for k, v in (workflow.get("env") or {}).items()}
    for job_name, job in workflow["jobs"].items():
        job_env = dict(top)
        for key, value in (job.get("env") or {}).items():
            job_env[key] = substitute(value, repo, job_env)
        written: dict[str, str] = {}
        for index, step in enumerate(job.get("steps", [])):
            env = {**job_env, **written}
            for key, value in (step.get("env") or {}).items():
                env[key] = substitute(value, repo, env)
            run = substitute(step.get("run", ""), repo, env)
            yield Step(job_name, index, step.get("name", ""), env, run, step.get("uses", ""))
            for name in GITHUB_ENV_WRITE.findall(run):
                if name not in repo.outputs:
                    raise KeyError(f"{job_name}: no simulated value for $GITHUB_ENV {name}")
                written[name] = repo.outputs[name]


def command_lines(run: str, program: str = "amlstack") -> list[str]:
    """The ``program ...`` commands of a script: continuations joined, pipes/redirects cut."""
    joined = re.sub(r"\\\n\s*", " ", run)
    found = []
    for line in joined.splitlines():
        words = line.strip()
        if not words.startswith(program + " "):
            continue
        words = re.split(r"\s\|\s|\s\|$|\s>{1,2}\s?\S+", words)[0]
        found.append(words.strip())
    return found


def argv(command: str, env: Mapping[str, str]) -> list[str]:
    """The argument list the shell would build: unset variables expand to nothing."""
    words = shlex.split(command)
    expanded = [SHELL_VAR.sub(lambda m: env.get(m.group(1), ""), word) for word in words]
    return expanded[1:]  # without the program name
