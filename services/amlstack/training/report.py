"""The training report: ROC, precision-recall, confusion matrix, calibration and feature
importance as PNG files, and one HTML page that shows them with the metrics and leaderboard."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def write_report(
    folder: Path,
    *,
    title: str,
    y: np.ndarray,
    proba: np.ndarray,
    classes: list[Any],
    metrics: dict[str, Any],
    leaderboard: list[dict[str, Any]],
    importance: dict[str, float],
    few_rows: str | None = None,
) -> None:
    """Write report/index.html and its PNGs into ``folder``; ``few_rows`` (`evaluate.few_rows`)
    is shown with the held-out metrics."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers or in containers
    folder.mkdir(parents=True, exist_ok=True)
    plotted = _plotted_class(y, proba)
    truth, score, positive = (y == plotted).astype(int), proba[:, plotted], classes[plotted]
    plots = {
        "roc.png": lambda ax: _roc(ax, truth, score, positive),
        "precision_recall.png": lambda ax: _pr(ax, truth, score, positive),
        "confusion_matrix.png": lambda ax: _confusion(ax, metrics["confusion_matrix"]),
        "calibration.png": lambda ax: _calibration(ax, truth, score),
        "feature_importance.png": lambda ax: _importance(ax, importance),
    }
    for name, draw in plots.items():
        _save(folder / name, draw)
    (folder / "index.html").write_text(_page(title, metrics, leaderboard, list(plots), few_rows))


def _save(path: Path, draw: Callable) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no timestamps: same model, same bytes
    plt.close(fig)


def _plotted_class(y: np.ndarray, proba: np.ndarray) -> int:
    """The class the ROC, precision-recall and calibration plots are about (one against the
    rest): the last one the held-out rows hold. A rare class of a many-class target can have no
    held-out row, and its curves are undefined (scikit-learn warns, with its own file path)."""
    held = np.bincount(y, minlength=proba.shape[1])
    return int(np.flatnonzero(held)[-1])


def _roc(ax, truth, score, positive) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(truth, score)
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(truth, score):.4f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(f"ROC (positive class: {positive})")
    ax.legend(loc="lower right")


def _pr(ax, truth, score, positive) -> None:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(truth, score)
    ax.plot(recall, precision, label=f"AP {average_precision_score(truth, score):.4f}")
    ax.axhline(truth.mean(), linestyle="--", color="grey", linewidth=0.8, label="base rate")
    ax.set(xlabel="recall", ylabel="precision")
    ax.set_title(f"Precision-recall ({positive})")
    ax.legend(loc="upper right")


def _confusion(ax, confusion: dict[str, Any]) -> None:
    matrix = np.asarray(confusion["matrix"])
    labels = confusion["labels"]
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        color = "white" if value > matrix.max() / 2 else "black"
        ax.text(j, i, str(value), ha="center", va="center", color=color)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="actual")
    ax.set_title("Confusion matrix (held-out rows)")


def _calibration(ax, truth, score) -> None:
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(truth, score, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8, label="perfect")
    ax.set(xlabel="predicted probability", ylabel="observed frequency")
    ax.set_title("Calibration (deciles)")
    ax.legend(loc="upper left")


def _importance(ax, importance: dict[str, float]) -> None:
    items = sorted(importance.items(), key=lambda kv: kv[1])[-15:]
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="AUC drop when the column is shuffled")
    ax.set_title("Permutation importance (held-out rows)")


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    matrix: np.ndarray,
    y: np.ndarray,
    names: list[str],
    seed: int,
    deadline: float | None = None,
) -> dict[str, float]:
    """AUC lost when each column is shuffled; works on the exported model itself.

    Columns are measured in order until ``deadline`` (monotonic, or None) has passed; the rest
    are left out (1,500 columns took 40 s of a 20 s budget), each measured one unchanged."""
    import time

    from amlstack.training.evaluate import auc

    base = auc(y, predict(matrix))
    rng = np.random.default_rng(seed)
    result = {}
    shuffled = matrix.copy()  # one column at a time is shuffled and put back
    for j, name in enumerate(names):
        if deadline is not None and time.monotonic() > deadline:
            break
        column = matrix[:, j]
        shuffled[:, j] = rng.permutation(column)
        result[name] = round(base - auc(y, predict(shuffled)), 6)
        shuffled[:, j] = column
    return result


def _page(
    title: str, metrics: dict, leaderboard: list[dict], images: list[str], few_rows: str | None
) -> str:
    esc = html.escape
    caveat = f"<p><strong>Note</strong>: {esc(few_rows)}.</p>" if few_rows else ""
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{_fmt(v)}</td></tr>"
        for k, v in metrics.items()
        if k != "confusion_matrix"
    )
    head = ["rank", "model", "validation", "held-out AUC", "trials", "seconds"]
    board = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(_fmt(entry.get(key)))}</td>"
            for key in ("rank", "model", "val_score", "holdout_auc", "trials", "seconds")
        )
        + "</tr>"
        for entry in leaderboard
    )
    figures = "".join(f'<figure><img src="{esc(i)}" alt="{esc(i)}"></figure>' for i in images)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}
figure{{display:inline-block;margin:.5rem}}img{{max-width:540px}}</style></head>
<body><h1>{esc(title)}</h1>
<h2>Held-out metrics</h2>{caveat}<table>{rows}</table>
<h2>Leaderboard</h2><table><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{board}</table>
<h2>Plots</h2>{figures}
</body></html>
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)
