"""The fixed names of the artifact format: files, format markers and the ONNX graph's ends."""

from __future__ import annotations

ARTIFACT_FORMAT = "amlstack-artifact"
FORMAT_VERSION = 1

MODEL_JSON = "model.json"
MODEL_ONNX = "model.onnx"
SAMPLE_INPUT = "sample_input.json"
PROFILE_FILE = "profile.json"
MANIFEST = "MANIFEST.json"
# Optional: an Ed25519 signature of MANIFEST.json's bytes (base64), not listed in the manifest.
MANIFEST_SIGNATURE = "MANIFEST.sig"
# {"data": [record, ...]}: training rows, the baseline of per-record explanations (optional).
BACKGROUND_JSON = "background.json"
HOLDOUT_FILE = "holdout.json"  # the data rows training held out (never evaluate on them)

# The ONNX graph: float32 ONNX_INPUT [N, inputs] -> float32 ONNX_OUTPUT [N, classes].
ONNX_INPUT = "X"
ONNX_OUTPUT = "probabilities"

UNSEEN_CODE = -1.0  # the encoding of a categorical value never seen in training

# Metric names: model.json's metrics.holdout, the pipeline's evaluation and the registry's entries
# all use these keys, so any reader finds a metric whichever writer recorded it.
AUC = "AUC"
AUC_WEIGHTED = "AUC_weighted"  # multiclass: classes weighted by their share; Azure's metric
ACCURACY = "accuracy"
F1 = "F1"
LOG_LOSS = "log_loss"
