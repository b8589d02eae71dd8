"""The UI's Flask app: four server-rendered pages (score, file, model card, insights).

Every call to the scorer or Prometheus happens here on the server; the browser only ever talks
to this app, so the scoring key stays in the container.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from amlstack.artifact.delimiters import DELIMITER_NAMES
from amlstack_ui import batch, form, insights
from amlstack_ui.scorer import ScorerClient, ScorerUnavailable
from amlstack_ui.settings import Settings

VENDOR_DIR = Path(os.environ.get("AMLSTACK_UI_VENDOR_DIR", "/app/vendor"))
TOP_FEATURES = 5
# The scorer's answers that refuse what the person typed (shown next to the field); any other
# refusal is the scorer's trouble
INPUT_REFUSED = (400, 413, 422)
SHOWN_MIN = 5e-4  # contributions under 0.05 points are noise, not reasons
NAV = (
    ("score_page", "Score one {singular}"),  # "one", not "a": no a/an to get wrong (an iris)
    ("batch_page", "Score a file"),
    ("card_page", "Model card"),
    ("insights_page", "Insights"),
)


def create_app(
    settings: Settings, client: ScorerClient | None = None, retry: batch.Retry | None = None
) -> Flask:
    """The app; ``client`` and ``retry`` (how a file job waits out a scorer outage) default to
    the real scorer and `batch.Retry`'s bounds."""
    app = Flask("amlstack_ui")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    client = client or ScorerClient(settings)
    prom = insights.Prometheus(settings.prometheus_url, timeout_s=settings.timeout_s)
    jobs = batch.Jobs(settings.jobs_dir, client, settings.chunk_rows, settings.job_ttl_s, retry)

    app.add_template_filter(_plot_title, "plot_title")

    @app.context_processor
    def _nav() -> dict[str, Any]:
        subject = settings.subject
        return {
            "nav": [(endpoint, label.format(**vars(subject))) for endpoint, label in NAV],
            "subject": subject,
            "max_upload_mb": settings.max_upload_mb,
            "delimiter_names": DELIMITER_NAMES,
        }

    @app.errorhandler(ScorerUnavailable)
    def _scorer_down(exc: ScorerUnavailable):
        return render_template(
            "problem.html", title="The scorer is not available", message=str(exc)
        ), 503

    @app.errorhandler(form.SchemaError)
    def _schema(exc: form.SchemaError):
        return render_template("problem.html", title="No model schema", message=str(exc)), 503

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound):
        # a link to a deleted job was Flask's bare "Not Found" page, with no way back
        return render_template(
            "problem.html", title="Not found", message=exc.description, retry=False
        ), 404

    def no_job() -> NoReturn:
        abort(
            404,
            description=(
                "There is no such file job here: a job and its files are deleted "
                f"{_duration(settings.job_ttl_s)} after the upload. Upload the file again."
            ),
        )

    def batch_form(problem: str | None):
        try:  # the columns a file gets: a multi-class model's name its classes
            classes = form.model_classes(client.swagger())
        except ScorerUnavailable:  # the upload will say why; the page stays up
            classes = None
        columns = batch.added_columns(classes)
        return render_template("batch.html", problem=problem, added_columns=columns)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        message = f"The file is larger than the {settings.max_upload_mb} MB upload limit."
        return batch_form(message), 413

    @app.get("/healthz")
    def health():
        return "ok"

    @app.get("/favicon.ico")
    def favicon():
        # Pages link favicon.svg; a browser that asks for /favicon.ico anyway gets "no icon"
        # rather than a 404 in its console.
        return "", 204, {"Cache-Control": "max-age=86400"}

    @app.get("/vendor/<path:name>")
    def vendor(name: str):
        path = (VENDOR_DIR / name).resolve()
        if VENDOR_DIR.resolve() not in path.parents or not path.is_file():
            abort(404)
        return send_file(path, max_age=86400)

    @app.get("/")
    def home():
        return redirect(url_for("score_page"))

    @app.route("/score", methods=["GET", "POST"])
    def score_page():
        doc = client.swagger()
        fields = form.fields_from_swagger(doc)
        if request.method == "GET":
            # The form starts at the documented example record, field by field.
            values = {f.name: f.default for f in fields}
            return render_template(
                "score.html", fields=fields, values=values, errors={}, notes={}, result=None
            )
        values = {f.name: request.form.get(f.name, "") for f in fields}
        record = form.record_from_values(fields, values)
        answer = client.score([record], explain=True)
        if answer.error.get("field") == "explain":  # a model without a background sample
            answer = client.score([record])
        errors: dict[str, str] = {}
        result = None
        message = None if answer.ok else answer.error.get("message") or f"HTTP {answer.status}"
        if answer.ok:
            result = _result(answer.body, client)
        elif answer.status not in INPUT_REFUSED:
            # busy, failing or refusing the UI itself (a 503 with a JSON body: the proxy's full
            # queue, the deadline; a 403, a 429): the scorer's trouble, not the person's input,
            # which was a 422 in red; values stay
            errors["_form"] = (
                f"The scorer could not score this just now ({message}). The values are kept: "
                "send them again."
            )
        else:
            _, name = form.field_of(answer.error.get("field"))
            writing = form.writing_of(fields, name)
            errors[name if name in values else "_form"] = form.friendly(message, name, writing)
        notes = form.range_notes(fields, record)
        status = 200 if answer.ok else 422 if answer.status in INPUT_REFUSED else 503
        return render_template(
            "score.html", fields=fields, values=values, errors=errors, notes=notes, result=result
        ), status

    @app.get("/batch")
    def batch_page():
        return batch_form(None)

    @app.post("/batch")
    def batch_upload():
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return batch_form("Choose a CSV file to score."), 400
        doc = client.swagger()
        fields = form.fields_from_swagger(doc)
        job_id = jobs.start(
            upload.stream,
            Path(upload.filename).name,
            fields,
            max_rows=form.batch_limit(doc),
            classes=form.model_classes(doc),
        )
        return redirect(url_for("job_page", job_id=job_id), code=303)

    @app.get("/batch/<job_id>")
    def job_page(job_id: str):
        status = jobs.status(job_id) or no_job()
        return render_template("job.html", job_id=job_id, status=status)

    @app.get("/batch/<job_id>/status")
    def job_status(job_id: str):
        status = jobs.status(job_id)
        if status is None:  # job.js reloads the page, which says why
            return jsonify(state="gone", message="no such job"), 404
        return jsonify(
            state=status.state,
            percent=status.percent,
            rows_done=status.rows_done,
            rows_scored=status.rows_scored,
            rows_failed=status.rows_failed,
            message=status.message,
        )

    @app.get("/batch/<job_id>/<any(scored, errors):kind>.csv")
    def job_file(job_id: str, kind: str):
        status = jobs.status(job_id) or no_job()
        path = jobs.path(job_id, f"{kind}.csv")
        # a failed job's files hold the rows scored before it stopped: still worth having
        if status.state not in ("done", "failed") or path is None or not path.is_file():
            abort(404, description="The file is not ready: the job is still scoring it.")
        stem = Path(status.filename).stem or "file"
        return send_file(
            path, mimetype="text/csv", as_attachment=True, download_name=f"{stem}-{kind}.csv"
        )

    @app.get("/model")
    def card_page():
        card = client.card()
        return render_template("card.html", card=card, metric_names=_metric_names(card))

    @app.get("/model/report/<name>")
    def report(name: str):
        found = client.report(name)
        if found is None:
            abort(404)
        body, content_type = found
        return app.response_class(
            body, mimetype=content_type, headers={"Cache-Control": "max-age=300"}
        )

    @app.get("/insights")
    def insights_page():
        # Everything but drift comes from Prometheus alone: the page must stay up while the
        # scorers are down, since that is the outage it shows (their targets down, failures).
        data: dict[str, Any] = {"drift": [], "drift_problem": None, "problem": None}
        try:
            data.update(
                stats=insights.stats(prom),
                targets=insights.targets(prom),
                series=insights.series(prom),
            )
        except insights.PrometheusUnavailable as exc:
            data.update(stats={}, targets=[], series={}, problem=str(exc))
            return render_template("insights.html", **data)
        try:
            profile = client.card().get("profile") or {}
        except ScorerUnavailable as exc:
            data["drift_problem"] = (
                "it compares live traffic with the training profile in the scorer's model "
                f"card, and the scorer is not available ({exc})"
            )
            return render_template("insights.html", **data)
        try:
            data["drift"] = insights.drift(prom, profile)
        except insights.PrometheusUnavailable as exc:
            data["drift_problem"] = str(exc)
        return render_template("insights.html", **data)

    return app


ACRONYMS = {"roc": "ROC", "auc": "AUC", "psi": "PSI", "shap": "SHAP"}


def _plot_title(name: str) -> str:
    """A report plot's caption from its file name: "roc.png" is "ROC", not "Roc"."""
    words = Path(name).stem.replace("_", " ").split(" ")
    title = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    return title[:1].upper() + title[1:]


def _duration(seconds: int) -> str:
    """A job's lifetime in words: "1 hour", "90 minutes", "75 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


# How training averages a multi-class model's figures over its classes (evaluate.py: macro
# precision, recall and F1; AUC one class against the rest, plain or weighted by class share).
# The keys are the card's JSON (amlstack.artifact.names), which the UI reads over HTTP.
MULTI_CLASS_METRICS = {
    "AUC": "AUC (mean over the classes, each against the rest)",
    "AUC_weighted": "AUC weighted (by each class's share of the rows)",
    "precision": "precision (mean over the classes)",
    "recall": "recall (mean over the classes)",
    "F1": "F1 (mean over the classes)",
}


def _metric_names(card: dict[str, Any]) -> dict[str, str]:
    """Each held-out metric's name on the card: a multi-class model's say how they average
    over the classes (a bare "precision" reads as one class's)."""
    multi = len(card.get("classes") or ()) > 2
    return {
        key: (MULTI_CLASS_METRICS.get(key) if multi else None) or key.replace("_", " ")
        for key in card.get("metrics") or {}
    }


def _result(body: dict[str, Any], client: ScorerClient) -> dict[str, Any]:
    """The answer as the page shows it: label, probability, threshold, every class's
    probability (most likely first) for a multi-class model, and the top reasons."""
    # a model with numbers for labels answers 10, where its probabilities' keys are "10": as
    # a number it matched no class (not marked predicted, a positive answer coloured negative)
    label = str(body["predictions"][0])
    probabilities: dict[str, float] = body["probabilities"][0]
    classes = list(probabilities)
    card = client.card()
    positive = classes[-1] if len(classes) == 2 else label
    explanation = (body.get("explanations") or [None])[0]
    up: list[tuple[str, float]] = []
    down: list[tuple[str, float]] = []
    base = None
    if explanation:
        ranked = sorted(explanation["contributions"].items(), key=lambda kv: -abs(kv[1]))
        up = [kv for kv in ranked if kv[1] >= SHOWN_MIN][:TOP_FEATURES]
        down = [kv for kv in ranked if kv[1] <= -SHOWN_MIN][:TOP_FEATURES]
        base = explanation.get("base")
    scale = max([abs(v) for _, v in up + down] or [1.0])
    return {
        "label": label,
        "positive": positive,
        "probability": probabilities[positive],
        "threshold": card.get("threshold"),
        "binary": len(classes) == 2,
        # a 3- or 4-class answer showed the predicted class's probability alone: how close the
        # runner-up came is what its reader weighs
        "classes": []
        if len(classes) == 2
        else sorted(probabilities.items(), key=lambda kv: -kv[1]),
        "up": up,
        "down": down,
        "base": base,
        "scale": scale,
        "model": body.get("model", {}),
    }
