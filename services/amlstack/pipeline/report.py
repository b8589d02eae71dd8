"""The run summary: Markdown and HTML, with the champion vs challenger ROC curves."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from amlstack.pipeline.jsonio import read_json


def plot_roc(scores_npz: Path, out: Path) -> Path | None:
    if not scores_npz.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    data = np.load(scores_npz)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name in ("champion", "challenger"):
        if name in data.files:
            fpr, tpr, _ = roc_curve(data["y"], data[name])
            ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, held-out rows")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _metrics_table(evaluation: dict[str, Any]) -> list[list[str]]:
    metrics = evaluation.get("metrics", {})
    rows = [["metric", *metrics]]
    for metric in metrics.get("challenger", {}):
        cells = [metric]
        for model in metrics:
            m = metrics[model][metric]
            cells.append(f"{m['value']:.4f} [{m['ci'][0]:.4f}, {m['ci'][1]:.4f}]")
        rows.append(cells)
    return rows


def summary(run) -> dict[str, Any]:
    record = run.record()
    results = {s: read_json(run.stage_dir(s) / "result.json", {}) for s in record.get("stages", {})}
    return {"record": record, "results": results}


def write_report(run) -> list[Path]:
    """Write report.md, report.html and roc.png into the run folder; return their paths."""
    info = summary(run)
    record, results = info["record"], info["results"]
    roc = plot_roc(run.stage_dir("evaluate") / "scores.npz", run.folder / "roc.png")
    decision = record.get("decision", {})
    inputs = record.get("inputs", {})
    lines = [
        f"# Pipeline run {record.get('run_id')}",
        "",
        f"- by {record.get('who')} at {record.get('started_at')}, "
        f"code {record.get('code_version')}",
        f"- data {inputs.get('data')} (sha256 {inputs.get('data_sha256', '')[:12]}...)",
        f"- status **{record.get('status', 'running')}**; stages: "
        + ", ".join(f"{s} {st}" for s, st in record.get("stages", {}).items()),
        f"- decision: **{decision.get('decision', 'none')}**",
        *[f"  - {r}" for r in decision.get("reasons", [])],
        "",
    ]
    evaluation = results.get("evaluate") or {}
    if evaluation.get("metrics"):
        table = _metrics_table(evaluation)
        lines += [f"## Held-out metrics ({evaluation.get('rows')} rows, 95% bootstrap CI)", ""]
        lines.append("| " + " | ".join(table[0]) + " |")
        lines.append("|" + "---|" * len(table[0]))
        lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
        lines.append("")
    validated = results.get("validate_data") or {}
    if validated.get("warnings"):
        lines += ["## Data warnings", "", *[f"- {w}" for w in validated["warnings"]], ""]
    if validated.get("data_drift"):
        lines += [
            f"Data drift vs the champion's training data: {', '.join(validated['data_drift'])}",
            "",
        ]
    if roc:
        lines += ["![ROC curves](roc.png)", ""]
    markdown = "\n".join(lines)
    md_path = run.folder / "report.md"
    md_path.write_text(markdown)
    html_path = run.folder / "report.html"
    html_path.write_text(_html(record, decision, evaluation, roc))
    return [p for p in (md_path, html_path, roc) if p]


def _html(record, decision, evaluation, roc) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>amlstack run {esc(str(record.get('run_id')))}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{border:1px solid #ccc;padding:.3em .6em}table{border-collapse:collapse}</style>",
        "</head><body>",
        f"<h1>Pipeline run {esc(str(record.get('run_id')))}</h1>",
        f"<p>by {esc(str(record.get('who')))} at {esc(str(record.get('started_at')))}; "
        f"status <b>{esc(str(record.get('status', 'running')))}</b></p>",
        f"<h2>Decision: {esc(str(decision.get('decision', 'none')))}</h2><ul>",
        *[f"<li>{esc(r)}</li>" for r in decision.get("reasons", [])],
        "</ul>",
    ]
    if evaluation.get("metrics"):
        table = _metrics_table(evaluation)
        parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in table[0]) + "</tr>")
        for row in table[1:]:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    if roc:
        parts.append("<p><img src='roc.png' alt='ROC curves, champion vs challenger'></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
