"""The command line every anchor runner takes (stdlib only: each runner has its own venv)."""

import argparse
from pathlib import Path


def runner_parser(description: str, seed: int) -> argparse.ArgumentParser:
    """--train/--test CSVs, --target, --budget seconds, --seed, --out probabilities CSV."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--out", type=Path, required=True)
    return parser
