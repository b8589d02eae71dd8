"""Training: a CSV in, a versioned model artifact out.

The stages, in the order `train.train` runs them, one module each:

- `data`: read and type the CSV (helpers: `columns` types each column, `context` adds
  context features, `preprocess` the graph's imputation);
- `search`: FLAML per learner, the candidates;
- `ensemble`: which candidates ship, with what weights (Caruana-style selection);
- `export`: ONNX, the members fused into one graph;
- `store`: the artifact (model card, versioned folder written by `amlstack.artifact.writer`).

`evaluate` holds the metrics every stage measures with; `report` and `amlstack.artifact.profile`
describe the result for people and for drift monitoring.
"""
