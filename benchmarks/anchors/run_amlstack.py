"""Train amlstack on one corpus split and write its test-row probabilities (project venv).

    python run_amlstack.py --train T.csv --test S.csv --target y --budget 60 --out proba.csv

Runs the two commands a user runs, `amlstack train` (default options, the budget given) and
`amlstack predict` on the test rows; the probabilities file has one column per class.
"""

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from runner_args import runner_parser

AMLSTACK = [str(Path(sys.executable).with_name("amlstack"))]  # the console script


def main() -> None:
    parser = runner_parser(__doc__.splitlines()[0], seed=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train = [*AMLSTACK, "train", "--data", str(args.train), "--target", args.target,
                 "--time-budget", f"{args.budget:g}", "--seed", str(args.seed),
                 "--out", str(root / "artifacts"), "--name", "bench"]  # fmt: skip
        run(train)
        model = max((root / "artifacts" / "bench").iterdir())
        predicted = root / "predicted.csv"
        run([*AMLSTACK, "predict", "--model", str(model), "--input", str(args.test),
             "--output", str(predicted)])  # fmt: skip
        with predicted.open(newline="") as src, args.out.open("w", newline="") as dst:
            reader = csv.DictReader(src)
            columns = [c for c in reader.fieldnames or [] if c.startswith("probability_")]
            writer = csv.writer(dst)
            writer.writerow([c.removeprefix("probability_") for c in columns])
            for row in reader:
                writer.writerow([row[c] for c in columns])


def run(cmd: list[str]) -> None:
    """Run an amlstack command; on failure exit with its code, its own error line last."""
    proc = subprocess.run(cmd, stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
