"""amlstack against FLAML and AutoGluon on a corpus of public data sets, side by side in one run.

    python benchmarks/bench_corpus.py --flaml-python .venv-flaml/bin/python \
        --autogluon-python .venv-autogluon/bin/python          # about an hour on 2 cores
    python benchmarks/bench_corpus.py ... --datasets penguins,wine --rows 500   # a smoke run
    python benchmarks/bench_corpus.py ... --bank-default        # + bank data, default budget
    python benchmarks/bench_corpus.py --report --work DIR       # the tables of an earlier run

The corpus (benchmarks/corpus.py, built in the FLAML venv, which holds the data packages) is cut
into a seeded, stratified 80/20 split per data set; every system trains on the same 80 % as a
CSV file, with the same budget (--budget, 60 s) on the same two cores, and writes probabilities
for the 20 % none of them saw. This script scores them all with one AUC (binary; macro one-vs-
rest for multiclass), so no system grades itself. Systems run interleaved per data set, so
machine load hits them alike. A run that fails, crashes or overruns (3 x budget + 120 s) is a
failure, shown as "fail". Each system's probabilities are kept (WORK/predictions), and a
second table gives, per data set, amlstack's AUC minus each anchor's with a 95 % interval from
a paired bootstrap of the test rows (the same resampled rows score both systems), and the mean
difference over the corpus with its interval: on a few hundred test rows a gap of 0.005 is
often noise, and the table says which gaps are not. --report prints both tables again from
WORK without training anything. --bank-default adds the shipped bank data with amlstack's default
budget against AutoGluon best_quality given the same budget. --lock FILE holds an exclusive
lock on FILE during each system's run, so other benchmarks that take the same lock (e.g.
`flock FILE python benchmarks/bench_scorer.py ...`) run between systems, never beside one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SYSTEMS = ("amlstack", "flaml", "autogluon_medium", "autogluon_best")
DRAWS = 1000  # bootstrap resamples of the test rows
BANK_DEFAULT = "bank-default-budget"  # --bank-default's runs, in results and predictions


@dataclass
class Run:
    dataset: str
    system: str
    auc: float | None
    seconds: float
    error: str = ""


def command(system: str, split: Path, target: str, budget: float, out: Path, args) -> list[str]:
    """The command line that trains ``system`` on ``split``/train.csv and writes ``out``."""
    train, test = str(split / "train.csv"), str(split / "test.csv")
    common = ["--train", train, "--test", test, "--target", target, "--budget", f"{budget:g}"]
    common += ["--out", str(out)]
    if system == "amlstack":
        return [sys.executable, str(HERE / "anchors" / "run_amlstack.py"), *common]
    if system == "flaml":
        return [args.flaml_python, str(HERE / "anchors" / "run_flaml.py"), *common]
    preset = {"autogluon_medium": "medium_quality", "autogluon_best": "best_quality"}[system]
    return [args.autogluon_python, str(HERE / "anchors" / "run_autogluon.py"), *common,
            "--presets", preset]  # fmt: skip


def run_one(system: str, name: str, split: Path, target: str, budget: float, args) -> Run:
    """Train and score ``system`` on one split; its probabilities are kept in
    `predictions_file`."""
    kept = predictions_file(args.work, name, system)
    kept.unlink(missing_ok=True)  # a failure leaves none, not an earlier run's
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "proba.csv"
        cmd = command(system, split, target, budget, out, args)
        with _held(args.lock):
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    ["nice", "-n", "5", *cmd], capture_output=True, text=True,
                    timeout=3 * budget + 120, check=False, cwd=tmp,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return Run(name, system, None, time.monotonic() - started, "timed out")
            seconds = time.monotonic() - started
        if proc.returncode != 0 or not out.is_file():
            last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            return Run(name, system, None, seconds, last[:200])
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(out.read_bytes())
        return Run(name, system, score(split / "test.csv", target, kept), seconds)


def predictions_file(work: Path, dataset: str, system: str) -> Path:
    return work / "predictions" / dataset / f"{system}.csv"


@contextlib.contextmanager
def _held(lock: Path | None):
    """An exclusive flock on ``lock`` for the block (waits for whoever holds it); none: no lock."""
    if lock is None:
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def score(test_csv: Path, target: str, proba_csv: Path) -> float:
    """One AUC for every system: binary on the second sorted class, else macro one-vs-rest."""
    from sklearn.metrics import roc_auc_score

    y, matrix = labelled_scores(test_csv, target, proba_csv)
    if matrix.shape[1] == 2:
        return float(roc_auc_score(y, matrix[:, 1]))
    return float(roc_auc_score(y, matrix, multi_class="ovr", average="macro"))


def labelled_scores(test_csv: Path, target: str, proba_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test rows' class indices (into the sorted labels) and the system's probability for
    each class, a row's probabilities summing to 1 when there are more than two classes."""
    import pandas as pd

    labels = pd.read_csv(test_csv, usecols=[target], dtype=str)[target].str.strip()
    proba = pd.read_csv(proba_csv)
    proba.columns = [_label(c) for c in proba.columns]
    classes = sorted({_label(c) for c in labels})
    matrix = np.column_stack([proba[c] if c in proba else np.zeros(len(proba)) for c in classes])
    y = np.array([classes.index(_label(v)) for v in labels])
    if len(classes) > 2:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
    return y, matrix


def _auc(y: np.ndarray, matrix: np.ndarray) -> float:
    """`score`'s AUC, by ranks (as fast as a bootstrap needs): the second class's for two,
    else the mean over classes of each one against the rest."""
    from amlstack.training.evaluate import rank_auc

    if matrix.shape[1] == 2:
        return rank_auc(y == 1, matrix[:, 1])
    return float(np.mean([rank_auc(y == c, matrix[:, c]) for c in range(matrix.shape[1])]))


def resamples(y: np.ndarray, draws: int, seed: int = 0) -> np.ndarray:
    """``draws`` bootstrap resamples of the rows (indices), each class resampled within
    itself, so every resample holds every class as often as the test rows do."""
    rng = np.random.default_rng(seed)
    parts = [np.flatnonzero(y == c) for c in np.unique(y)]
    return np.hstack([rng.choice(part, size=(draws, len(part))) for part in parts])


def paired_differences(y: np.ndarray, ours: np.ndarray, theirs: np.ndarray,
                       draws: int = DRAWS, seed: int = 0) -> np.ndarray:  # fmt: skip
    """AUC(ours) - AUC(theirs) on each resample, the same rows scoring both."""
    rows = resamples(y, draws, seed)
    return np.array([_auc(y[r], ours[r]) - _auc(y[r], theirs[r]) for r in rows])


def interval(differences: np.ndarray) -> tuple[float, float]:
    """The central 95 % of the resampled differences."""
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def _label(value) -> str:
    """Labels as text, with "1.0" and "1" the same class (pandas may read either)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def build_corpus(args, folder: Path) -> list[dict]:
    cmd = [args.flaml_python, str(HERE / "corpus.py"), "--out", str(folder)]
    if args.datasets:
        cmd += ["--datasets", args.datasets]
    if args.rows:
        cmd += ["--rows", str(args.rows)]
    subprocess.run(cmd, check=True)
    return json.loads((folder / "corpus.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flaml-python", help="required unless --report")
    parser.add_argument("--autogluon-python", help="required unless --report")
    parser.add_argument("--datasets", help="comma-separated subset of the corpus")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--rows", type=int, help="at most this many rows per data set (smoke)")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--bank-default", action="store_true")
    parser.add_argument("--lock", type=Path, help="hold this file's flock during each run")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-corpus")
    parser.add_argument("--report", action="store_true",
                        help="print the tables of the run in --work; train nothing")  # fmt: skip
    args = parser.parse_args()
    if args.report:
        report(args.work)
        return
    if not (args.flaml_python and args.autogluon_python):
        parser.error("--flaml-python and --autogluon-python are required to run the systems")
    # absolute: every run's working directory is a temporary folder
    args.flaml_python = str(Path(args.flaml_python).absolute())
    args.autogluon_python = str(Path(args.autogluon_python).absolute())
    systems = args.systems.split(",")
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(args, args.work / "corpus")
    runs: list[Run] = []
    for entry in corpus:
        for system in systems:
            run = run_one(system, entry["name"], Path(entry["folder"]), entry["target"],
                          args.budget, args)  # fmt: skip
            runs.append(run)
            shown = "fail" if run.auc is None else f"{run.auc:.4f}"
            print(f"  {entry['name']:<16} {system:<18} {shown:>7} {run.seconds:6.0f} s "
                  f"{run.error}", flush=True)  # fmt: skip
            _save(args.work, runs)
    print_table(corpus, systems, runs, args.budget)
    print_differences(corpus, systems, args.work)
    if args.bank_default:
        bank_default(args, corpus)


def bank_default(args, corpus: list[dict]) -> None:
    """Bank data: amlstack's default budget against AutoGluon best_quality with the same."""
    from amlstack.training import defaults

    entry = next((e for e in corpus if e["name"] == "bank"), None)
    if entry is None:
        print("--bank-default: the bank data set is not in this run")
        return
    budget = defaults.TIME_BUDGET_S
    print(f"\nbank data, default budget ({budget:g} s), 20 % test rows none of them saw:")
    name = BANK_DEFAULT  # its own predictions: the 60 s run's stay the corpus table's
    for system in ("amlstack", "autogluon_best"):
        run = run_one(system, name, Path(entry["folder"]), entry["target"], budget, args)
        shown = "fail" if run.auc is None else f"{run.auc:.4f}"
        print(f"  {system:<18} AUC {shown}  {run.seconds:.0f} s {run.error}", flush=True)
    difference = _difference(args.work, {**entry, "name": name}, "amlstack", "autogluon_best")
    if difference is not None:
        print(f"  amlstack minus autogluon_best: {difference.shown()} (95 % interval)")


def _save(work: Path, runs: list[Run]) -> None:
    (work / "results.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))


def print_table(
    corpus: list[dict], systems: list[str], runs: list[Run], budget: float | None
) -> None:
    by = {(r.dataset, r.system): r for r in runs}
    budget_said = "" if budget is None else f", {budget:g} s budget"
    print(f"\nTest AUC (20 % seeded split){budget_said}, 2 cores:")
    print(f"{'data set':<16}{'rows':>7}{'cols':>5}" + "".join(f"{s:>18}" for s in systems))
    wins = dict.fromkeys(systems, 0)
    for entry in corpus:
        cells = [by[(entry["name"], s)] for s in systems]
        scored = [c.auc for c in cells if c.auc is not None]
        best = max(scored) if scored else None
        for s, c in zip(systems, cells, strict=True):
            wins[s] += int(c.auc is not None and best is not None and c.auc >= best - 5e-5)
        row = "".join(f"{'fail' if c.auc is None else f'{c.auc:.4f}':>18}" for c in cells)
        print(f"{entry['name']:<16}{entry['rows']:>7}{entry['columns']:>5}{row}")
    print(f"{'mean AUC':<28}" + "".join(f"{_mean(runs, s):>18}" for s in systems))
    print(f"{'wins (ties count)':<28}" + "".join(f"{wins[s]:>18}" for s in systems))
    fails = {s: sum(by[(e["name"], s)].auc is None for e in corpus) for s in systems}
    print(f"{'failures':<28}" + "".join(f"{fails[s]:>18}" for s in systems))
    wall = {s: sum(by[(e["name"], s)].seconds for e in corpus) for s in systems}
    print(f"{'wall time, s':<28}" + "".join(f"{wall[s]:>18.0f}" for s in systems))


def report(work: Path) -> None:
    """Both tables of the run kept in ``work`` (its results.json, corpus and predictions),
    for the systems and data sets it ran."""
    corpus = json.loads((work / "corpus" / "corpus.json").read_text())
    runs = [Run(**r) for r in json.loads((work / "results.json").read_text())]
    ran = {r.system for r in runs}
    systems = [s for s in SYSTEMS if s in ran]
    done = {(r.dataset, r.system) for r in runs}
    corpus = [e for e in corpus if all((e["name"], s) in done for s in systems)]
    print_table(corpus, systems, runs, budget=None)
    print_differences(corpus, systems, work)


def print_differences(corpus: list[dict], systems: list[str], work: Path) -> None:
    """amlstack's AUC minus each anchor's per data set, with a paired-bootstrap 95 % interval,
    and the mean difference over the data sets both scored (a failure has no predictions)."""
    ours, anchors = systems[0], systems[1:]
    if not anchors:
        return
    print(f"\n{ours} minus each system, test AUC, 95 % interval of a paired bootstrap of the "
          f"test rows ({DRAWS} resamples):")  # fmt: skip
    print(f"{'data set':<16}" + "".join(f"{a:>30}" for a in anchors))
    pooled: dict[str, list[Difference]] = {a: [] for a in anchors}
    for entry in corpus:
        cells = []
        for anchor in anchors:
            difference = _difference(work, entry, ours, anchor)
            if difference is not None:
                pooled[anchor].append(difference)
            cells.append("-" if difference is None else difference.shown())
        print(f"{entry['name']:<16}" + "".join(f"{c:>30}" for c in cells))
    # each data set is resampled on its own, so the mean of their draws resamples the mean
    means = [_mean_difference(pooled[a]) for a in anchors]
    print(f"{'mean':<16}" + "".join(f"{'-' if m is None else m.shown():>30}" for m in means))
    # a failure has no predictions: the mean is over the data sets both systems scored
    print(f"{'over data sets':<16}" + "".join(f"{len(pooled[a]):>30}" for a in anchors))
    print("ahead/behind (interval above/below 0):")
    for anchor in anchors:
        ahead = sum(d.interval()[0] > 0 for d in pooled[anchor])
        behind = sum(d.interval()[1] < 0 for d in pooled[anchor])
        print(
            f"  {anchor}: ahead on {ahead}, behind on {behind}, "
            f"within noise on {len(pooled[anchor]) - ahead - behind}"
        )


@dataclass
class Difference:
    """One AUC difference on the test rows and its bootstrap draws."""

    observed: float
    draws: np.ndarray

    def interval(self) -> tuple[float, float]:
        return interval(self.draws)

    def shown(self) -> str:
        low, high = self.interval()
        return f"{self.observed:+.4f} [{low:+.4f}, {high:+.4f}]"


def _difference(work: Path, entry: dict, ours: str, anchor: str) -> Difference | None:
    files = [predictions_file(work, entry["name"], s) for s in (ours, anchor)]
    if not all(f.is_file() for f in files):
        return None
    test = Path(entry["folder"]) / "test.csv"
    y, mine = labelled_scores(test, entry["target"], files[0])
    _, theirs = labelled_scores(test, entry["target"], files[1])
    # a seed of its own per data set: two with the same class counts must not share resamples,
    # or the mean's draws would not be independent
    seed = zlib.crc32(entry["name"].encode())
    return Difference(
        _auc(y, mine) - _auc(y, theirs), paired_differences(y, mine, theirs, seed=seed)
    )


def _mean_difference(differences: list[Difference]) -> Difference | None:
    if not differences:
        return None
    observed = float(np.mean([d.observed for d in differences]))
    return Difference(observed, np.mean([d.draws for d in differences], axis=0))


def _mean(runs: list[Run], system: str) -> str:
    """Mean AUC over data sets; a failure counts as 0.5 (a coin), so failing never pays."""
    values = [r.auc if r.auc is not None else 0.5 for r in runs if r.system == system]
    return f"{np.mean(values):.4f}" if values else "-"


if __name__ == "__main__":
    main()
