"""Train and pickle the FLAML AutoML object the Azure baseline serves (run in the baseline venv).

    python train_flaml.py --data data/bankmarketing_train.csv --out DIR/model.pkl --time-budget 30

bench_scorer.py runs this as a subprocess with a timeout; FLAML's own time budget bounds the
search, and the refit on all rows comes after it.
"""

import argparse
import pickle
from pathlib import Path

import pandas as pd
from flaml import AutoML


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--target", default="y")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    automl = AutoML()
    automl.fit(
        X_train=frame.drop(columns=[args.target]),
        y_train=frame[args.target],
        task="classification",
        metric="roc_auc",
        time_budget=args.time_budget,
        estimator_list=["lgbm", "xgboost", "rf", "extra_tree"],
        seed=args.seed,
        verbose=0,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as f:
        pickle.dump(automl, f)
    print(f"{automl.best_estimator} {1 - automl.best_loss:.4f} {args.out}")


if __name__ == "__main__":
    main()
