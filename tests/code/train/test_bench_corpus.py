"""benchmarks/bench_corpus.py's own logic: one AUC for every system, the lock, the bank run."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import sys
import threading
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from amlstack.training import defaults

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "benchmarks" / "bench_corpus.py"
spec = importlib.util.spec_from_file_location("bench_corpus", SCRIPT)
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_corpus"] = bench  # its dataclasses look their module up
spec.loader.exec_module(bench)


def test_one_auc_reads_labels_as_text_and_numbers_alike(tmp_path):
    test = tmp_path / "test.csv"
    test.write_text("x,y\n1,0\n2,1\n3,1\n4,0\n")
    proba = tmp_path / "proba.csv"
    proba.write_text("0.0,1.0\n0.9,0.1\n0.2,0.8\n0.4,0.6\n0.7,0.3\n")  # "1.0" is class "1"
    assert bench.score(test, "y", proba) == 1.0
    test.write_text("x,y\n1,a\n2,b\n3,c\n")
    proba.write_text("a,b,c\n0.8,0.1,0.1\n0.1,0.8,0.1\n0.2,0.2,0.6\n")
    assert bench.score(test, "y", proba) == 1.0


def test_a_run_waits_for_the_lock(tmp_path):
    lock = tmp_path / "bench.lock"
    entered = threading.Event()

    def run() -> None:
        with bench._held(lock):
            entered.set()

    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        thread = threading.Thread(target=run)
        thread.start()
        assert not entered.wait(0.3)  # held here: the run waits
        fcntl.flock(handle, fcntl.LOCK_UN)
    assert entered.wait(10)
    thread.join(10)


def test_bank_default_runs_both_systems_with_the_default_budget(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_run(system, name, split, target, budget, args):
        calls.append((system, name, budget))
        return bench.Run(name, system, 0.95, 1.0)

    monkeypatch.setattr(bench, "run_one", fake_run)
    corpus = [{"name": "bank", "folder": str(tmp_path), "target": "y"}]
    bench.bank_default(Namespace(work=tmp_path), corpus)
    # under a name of its own: the 60 s run's predictions stay the corpus table's
    assert calls == [
        ("amlstack", bench.BANK_DEFAULT, defaults.TIME_BUDGET_S),
        ("autogluon_best", bench.BANK_DEFAULT, defaults.TIME_BUDGET_S),
    ]
    assert "AUC 0.9500" in capsys.readouterr().out


@pytest.mark.parametrize("failed", [True, False])
def test_a_failure_counts_as_a_coin_in_the_mean(failed):
    runs = [bench.Run("a", "s", 0.9, 1.0), bench.Run("b", "s", None if failed else 0.7, 1.0)]
    assert bench._mean(runs, "s") == ("0.7000" if failed else "0.8000")


def _proba_file(path: Path, matrix, classes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(classes)] + [",".join(f"{v:.6f}" for v in row) for row in matrix]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("classes", [["no", "yes"], ["a", "b", "c"]])
def test_the_bootstrap_auc_is_the_tables_auc(tmp_path, classes):
    rng = np.random.default_rng(1)
    labels = rng.choice(classes, size=300)
    test = tmp_path / "test.csv"
    test.write_text("y\n" + "\n".join(labels) + "\n")
    raw = rng.random((300, len(classes))).round(2)  # rounded: ties among the scores
    proba = _proba_file(tmp_path / "proba.csv", raw / raw.sum(axis=1, keepdims=True), classes)
    y, matrix = bench.labelled_scores(test, "y", proba)
    assert bench._auc(y, matrix) == pytest.approx(bench.score(test, "y", proba), abs=1e-12)


def test_every_resample_holds_each_class_as_often_as_the_test_rows():
    y = np.array([0] * 90 + [1] * 7 + [2] * 3)
    rows = bench.resamples(y, draws=50)
    assert rows.shape == (50, 100)
    assert all((np.bincount(y[r], minlength=3) == [90, 7, 3]).all() for r in rows)


def test_a_gap_beyond_noise_has_an_interval_that_leaves_out_zero():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    sharp = np.column_stack([1 - (y + rng.normal(0, 0.5, 400)), y + rng.normal(0, 0.5, 400)])
    blunt = np.column_stack([1 - (y + rng.normal(0, 2, 400)), y + rng.normal(0, 2, 400)])
    low, high = bench.interval(bench.paired_differences(y, sharp, blunt, draws=200))
    assert 0 < low < high
    same = bench.paired_differences(y, sharp, sharp, draws=20)
    assert (same == 0).all()
    # a different draw of the same quality: the interval holds zero
    alike = np.column_stack([1 - (y + rng.normal(0, 0.5, 400)), y + rng.normal(0, 0.5, 400)])
    low, high = bench.interval(bench.paired_differences(y, sharp, alike, draws=200))
    assert low < 0 < high


def test_the_report_prints_both_tables_from_a_kept_run(tmp_path, capsys):
    rng = np.random.default_rng(3)
    corpus = []
    for name in ("one", "two"):
        folder = tmp_path / "corpus" / name
        folder.mkdir(parents=True)
        y = rng.integers(0, 2, 200)
        (folder / "test.csv").write_text("t\n" + "\n".join(map(str, y)) + "\n")
        corpus.append({"name": name, "target": "t", "folder": str(folder), "rows": 1000,
                       "columns": 3})  # fmt: skip
        for system, noise in (("amlstack", 0.3), ("flaml", 3.0)):
            score = y + rng.normal(0, noise, 200)
            matrix = np.column_stack([1 - score, score])
            _proba_file(bench.predictions_file(tmp_path, name, system), matrix, ["0", "1"])
    (tmp_path / "corpus" / "corpus.json").write_text(json.dumps(corpus))
    runs = [bench.Run(e["name"], s, 0.9, 60.0) for e in corpus for s in ("amlstack", "flaml")]
    bench._save(tmp_path, runs)
    bench.report(tmp_path)  # the systems the run holds, though SYSTEMS names four
    out = capsys.readouterr().out
    assert "Test AUC" in out and "mean AUC" in out
    assert "amlstack minus each system" in out
    assert "flaml: ahead on 2, behind on 0, within noise on 0" in out
    assert "autogluon" not in out


def test_a_failed_run_leaves_no_predictions_of_an_earlier_run(monkeypatch, tmp_path):
    kept = bench.predictions_file(tmp_path, "one", "amlstack")
    kept.parent.mkdir(parents=True)
    kept.write_text("0,1\n0.5,0.5\n")
    monkeypatch.setattr(bench, "command", lambda *a: [sys.executable, "-c", "raise SystemExit(2)"])
    args = Namespace(work=tmp_path, lock=None)
    run = bench.run_one("amlstack", "one", tmp_path, "y", 1.0, args)
    assert run.auc is None and not kept.exists()
