"""Azure-style entry script: the naive baseline an Azure ML user writes for a FLAML model.

Deliberately not optimised (it is what bench_scorer.py compares against): init() unpickles the
FLAML AutoML object from AZUREML_MODEL_DIR (set by `azmlinfsrv --model_dir`, as on Azure), and
run() builds a DataFrame from the raw JSON body and calls predict on it.
"""

import json
import os
import pickle

import pandas as pd

model = None


def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl")
    with open(path, "rb") as f:
        model = pickle.load(f)


def run(raw):
    data = pd.DataFrame(json.loads(raw)["data"])
    return model.predict(data).tolist()
