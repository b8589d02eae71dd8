"""Train FLAML on one corpus split and write its test-row probabilities (run in .venv-flaml).

    python run_flaml.py --train T.csv --test S.csv --target y --budget 60 --out proba.csv

FLAML gets the CSV as pandas reads it and its own defaults (every learner it has), the same
budget and two cores; the probabilities file has one column per class, named by the label.
"""

import pandas as pd
from flaml import AutoML
from runner_args import runner_parser


def main() -> None:
    parser = runner_parser(__doc__.splitlines()[0], seed=0)
    args = parser.parse_args()
    train = pd.read_csv(args.train, low_memory=False)
    test = pd.read_csv(args.test, low_memory=False)
    y = train.pop(args.target).astype(str)
    test = test.drop(columns=[args.target])
    automl = AutoML()
    automl.fit(
        X_train=train,
        y_train=y,
        task="classification",
        metric="roc_auc" if y.nunique() == 2 else "roc_auc_ovr",
        time_budget=args.budget,
        n_jobs=2,
        seed=args.seed,
        verbose=0,
    )
    proba = automl.predict_proba(test)
    pd.DataFrame(proba, columns=[str(c) for c in automl.classes_]).to_csv(args.out, index=False)
    print(f"flaml best={automl.best_estimator}")


if __name__ == "__main__":
    main()
