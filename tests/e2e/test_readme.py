"""README.md as an executable contract: its shell blocks run, in order, against the e2e stack.

The convention, for everyone who writes a block in README.md or docs/*.md:

- Every ```bash block is run, in file order (README.md first, then docs/*.md by name), each in a
  fresh `bash -euo pipefail` from the repository root, against the session's stack (the one the
  README's run command `bash scripts/stack.sh` brings up: the `stack` fixture). A block that
  exits non-zero fails the test. Whatever a block starts in the background is stopped when it
  ends. Use another info string (```text, ```console, ```sh) for output, syntax summaries and
  commands that are not meant to run here.
- Placeholders (PLACEHOLDERS below, a short visible list) are replaced first: `KEY` (a word of
  its own, not `$KEY` or `KEY=`) is the stack's key; `new.csv` and `my.csv` are small samples of
  the shipped data that the test writes (`my.csv`: target column `churned`, plus a
  `customer_id`); the default published ports become the ones the session's stack uses. `$KEY`
  is also set in every block's environment, as a reader has it after the README's
  `KEY=$(bash scripts/stack.sh key)`.
- A block with the line `# needs Azure` is not run (no Azure subscription in CI); one with the
  line `# takes minutes` is not run either (training with the default budget, benchmarks),
  unless AMLSTACK_README_SLOW=1. Both markers are visible to the reader, who is warned the same.
- Never tear the stack down in a block (`bash scripts/stack.sh down` belongs in prose): the
  tests after this one share the stack.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
NEEDS_AZURE = re.compile(r"^\s*#\s*needs Azure\b", re.MULTILINE | re.IGNORECASE)
TAKES_MINUTES = re.compile(r"^\s*#\s*takes minutes\b", re.MULTILINE | re.IGNORECASE)
FENCE = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
KEY_WORD = re.compile(r"(?<![\w$\{])KEY(?![\w=}])")
BLOCK_TIMEOUT_S = 600
SAMPLE_ROWS = 400


@dataclass(frozen=True)
class Block:
    """One fenced bash block: where it is and what it says."""

    path: Path
    line: int
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def bash_blocks(path: Path) -> list[Block]:
    """The ```bash blocks of a Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    return [
        Block(path, text.count("\n", 0, m.start()) + 1, m.group(1)) for m in FENCE.finditer(text)
    ]


BLOCKS = [block for path in DOCS for block in bash_blocks(path)]


def placeholders(stack) -> dict[str, str]:
    """Literal text -> its value for this run (KEY is handled as a word, see KEY_WORD)."""
    ports = {
        "5001": stack.scorer,
        "8080": stack.swagger,
        "8089": stack.locust,
        "8090": stack.ui,
        "9090": stack.prometheus,
    }
    out = {}
    for default, url in ports.items():
        port = url.rsplit(":", 1)[1]
        for host in ("localhost", "127.0.0.1"):
            out[f"{host}:{default}"] = f"{host}:{port}"
    return out


def substitute(text: str, stack) -> str:
    text = KEY_WORD.sub(stack.key, text)
    for literal, value in placeholders(stack).items():
        text = text.replace(literal, value)
    return text


def write_samples(folder: Path) -> None:
    """new.csv (the shipped schema) and my.csv (target renamed, an id column), small."""
    with (ROOT / "data" / "bankmarketing_train.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1 : SAMPLE_ROWS + 1]
    with (folder / "new.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    target = header.index("y")
    renamed = ["customer_id", *("churned" if i == target else h for i, h in enumerate(header))]
    with (folder / "my.csv").open("w", newline="") as f:
        csv.writer(f).writerows([renamed, *([str(n), *row] for n, row in enumerate(body))])


@pytest.fixture(scope="module")
def readme_env(stack, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("readme")
    write_samples(folder)
    env = dict(os.environ)
    # The test interpreter's scripts (amlstack, pip) first, as after `. .venv/bin/activate`.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["KEY"] = stack.key
    env["README_SAMPLES"] = str(folder)
    return env


def run_block(script: str, env: dict[str, str], log: Path) -> tuple[int, str]:
    """Run ``script`` in its own process group; stop whatever it left behind."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
    return code, log.read_text(errors="replace")


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_readme_block_runs(block: Block, stack, readme_env, tmp_path):
    if NEEDS_AZURE.search(block.text):
        pytest.skip("marked `# needs Azure`")
    if TAKES_MINUTES.search(block.text) and os.environ.get("AMLSTACK_README_SLOW") != "1":
        pytest.skip("marked `# takes minutes` (AMLSTACK_README_SLOW=1 runs it)")
    script = substitute(block.text, stack)
    # new.csv / my.csv are read from the samples folder; everything else from the repository.
    samples = readme_env["README_SAMPLES"]
    script = re.sub(r"(?<![\w/.])(new|my)\.csv\b", rf"{samples}/\1.csv", script)
    code, output = run_block(script, readme_env, tmp_path / "block.log")
    assert code == 0, f"{block.name} exited {code} (-1: over {BLOCK_TIMEOUT_S} s)\n{output[-6000:]}"


def test_the_readme_has_runnable_blocks_and_marks_the_azure_ones():
    """Guards the extraction itself: a renamed fence must not silently run nothing."""
    readme = [b for b in BLOCKS if b.path.name == "README.md"]
    assert len(readme) >= 4
    assert any(NEEDS_AZURE.search(b.text) for b in readme)
    assert any("scripts/stack.sh key" in b.text for b in readme)


def test_the_docs_blocks_run_after_the_readme_and_offline_ones_are_marked_so():
    """docs/azure.md and docs/kubernetes.md give offline commands: they must be extracted (a
    ```sh fence would silently run nothing), after every README block, each doc in order."""
    order = [b.path.name for b in BLOCKS]
    assert order == sorted(order, key=lambda name: (name != "README.md", name))
    for name in ("azure.md", "kubernetes.md"):
        blocks = [b for b in BLOCKS if b.path.name == name]
        assert [b.line for b in blocks] == sorted(b.line for b in blocks)
        runnable = [b for b in blocks if not NEEDS_AZURE.search(b.text)]
        assert any("amlstack" in b.text for b in runnable), name
    azure = "\n".join(b.text for b in BLOCKS if b.path.name == "azure.md")
    assert "amlstack azure plan" in azure and "amlstack azure batch-plan" in azure
    assert any(NEEDS_AZURE.search(b.text) for b in BLOCKS if b.path.name == "azure.md")


def test_key_placeholder_is_a_word_not_a_variable():
    class Fake:
        key = "k" * 20
        scorer, swagger, locust = "http://x:5101", "http://x:8180", "http://x:8189"
        ui, prometheus = "http://x:8190", "http://x:9190"

    text = 'KEY=$(cmd); a --key KEY; b "$KEY" ${KEY}; c http://localhost:5001/score'
    assert substitute(text, Fake) == (
        f'KEY=$(cmd); a --key {Fake.key}; b "$KEY" ${{KEY}}; c http://localhost:5101/score'
    )
