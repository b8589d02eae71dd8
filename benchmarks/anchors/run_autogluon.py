"""Train AutoGluon on one corpus split and write its test-row probabilities (.venv-autogluon).

    python run_autogluon.py --train T.csv --test S.csv --target y --budget 60 \
        --presets medium_quality --out proba.csv

AutoGluon gets the CSV as pandas reads it, the preset named, the same budget and two cores; the
probabilities file has one column per class, named by the label.
"""

import tempfile

import pandas as pd
from autogluon.tabular import TabularPredictor
from runner_args import runner_parser


def main() -> None:
    parser = runner_parser(__doc__.splitlines()[0], seed=0)
    parser.add_argument("--presets", default="medium_quality")
    args = parser.parse_args()
    train = pd.read_csv(args.train, low_memory=False)
    test = pd.read_csv(args.test, low_memory=False)
    train[args.target] = train[args.target].astype(str)
    test = test.drop(columns=[args.target])
    binary = train[args.target].nunique() == 2
    with tempfile.TemporaryDirectory() as folder:
        predictor = TabularPredictor(
            label=args.target,
            eval_metric="roc_auc" if binary else "log_loss",
            path=folder,
            verbosity=0,
        ).fit(
            train,
            presets=args.presets,
            time_limit=args.budget,
            num_cpus=2,
            num_gpus=0,
            # best_quality's dynamic-stacking check fails here with "Learner is already fit"
            # (no ray, so it runs in-process); without it best_quality still bags and stacks
            dynamic_stacking=False,
        )
        proba = predictor.predict_proba(test, as_multiclass=True)
        proba.columns = [str(c) for c in proba.columns]
        proba.to_csv(args.out, index=False)
        print(f"autogluon {args.presets} best={predictor.model_best}")


if __name__ == "__main__":
    main()
