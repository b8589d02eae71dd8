"""Training: a CSV in, a versioned model artifact out.

The stages, in the order `train.train` runs them: `data` (read and type the CSV, `context`
features) -> `search` (FLAML per learner) -> ensemble (`evaluate.greedy_ensemble`) -> `export`
(ONNX, fused into one graph) -> artifact (`store` writes the versioned folder). `profile` and
`report` describe the result for drift monitoring and people.
"""
