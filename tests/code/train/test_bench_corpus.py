"""benchmarks/bench_corpus.py's own logic: one AUC for every system, the lock, the bank run."""

from __future__ import annotations

import fcntl
import importlib.util
import sys
import threading
from argparse import Namespace
from pathlib import Path

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
    bench.bank_default(Namespace(), corpus)
    assert calls == [
        ("amlstack", "bank", defaults.TIME_BUDGET_S),
        ("autogluon_best", "bank", defaults.TIME_BUDGET_S),
    ]
    assert "AUC 0.9500" in capsys.readouterr().out


@pytest.mark.parametrize("failed", [True, False])
def test_a_failure_counts_as_a_coin_in_the_mean(failed):
    runs = [bench.Run("a", "s", 0.9, 1.0), bench.Run("b", "s", None if failed else 0.7, 1.0)]
    assert bench._mean(runs, "s") == ("0.7000" if failed else "0.8000")
