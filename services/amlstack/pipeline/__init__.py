"""The retraining pipeline: validate, train, evaluate, gate, register, deploy; and drift."""
