"""Benchmark explanations in-process: one record explained vs the same record scored.

Both are timed in this process, one after the other, on the same model and record: "score" is
encoding one record and one onnxruntime call (what /score does per record); "explain" is the
explainer's ``K * (features - 1) + 1`` substituted rows in one onnxruntime call plus the sums. The
ratio is explain / score; the target is at most 5 ms per explained record.

    python benchmarks/bench_explain.py --model artifacts/bankmarketing/1 --repeat 500

Without --model a small deterministic artifact is built in a temporary directory. The background
sample is the artifact's own (``background.json``) when it has one, else the first K rows of the
shipped CSV.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "bankmarketing_train.csv"
TARGET_MS = 5.0


def _records(model, n: int, skip: int = 0) -> list[dict]:
    with DATA.open(newline="") as handle:
        rows = [r for _, r in zip(range(skip + n), csv.DictReader(handle), strict=False)][skip:]
    for row in rows:
        for f in model.features:
            if f.kind == "numeric":
                row[f.name] = float(row[f.name])
    return rows


def _median_ms(fn, repeat: int) -> float:
    for _ in range(min(20, repeat)):
        fn()  # warm-up: onnxruntime's first calls allocate
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="artifact folder (default: a built fixture)")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--background", type=int, default=12, help="K when the artifact has none")
    args = parser.parse_args()
    sys.path[:0] = [str(REPO / "scorer"), str(REPO / "services"), str(REPO / "tests/code/scorer")]
    from amlstack.artifact.reader import Model
    from amlstack_scorer.explain import Explainer

    with tempfile.TemporaryDirectory(prefix="amlstack-bench-explain-") as tmp:
        folder = args.model
        if folder is None:
            from scorer_artifact_factory import build

            folder = build(Path(tmp) / "artifacts")
        model = Model(folder)
        background = model.encode_records(_records(model, args.background))
        explainer = Explainer(model, background)
        record = _records(model, 1, skip=100)
        target = [len(model.classes) - 1]

        def score() -> None:
            model.predict_proba(model.encode_records(record))

        def explain() -> None:
            explainer.explain(model.encode_records(record), target)

        score_ms = _median_ms(score, args.repeat)
        explain_ms = _median_ms(explain, args.repeat)
    k, d = background.shape
    print(f"model {model.name} v{model.version}: {d} features, background K={k}")
    print(f"{'in-process, one record':<28} {'median ms':>10} {'ratio':>8}")
    print(f"{'score (baseline)':<28} {score_ms:>10.3f} {1.0:>8.1f}")
    print(f"{'explain':<28} {explain_ms:>10.3f} {explain_ms / score_ms:>8.1f}")
    verdict = "met" if explain_ms <= TARGET_MS else "NOT met"
    print(f"target: explain one record in at most {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
