"""Score through the ``kserve`` package's InferenceRESTClient (protocol v2); runs in its own venv.

kserve pins pandas, protobuf and psutil below what amlstack installs, so scripts/test.sh gives
it a virtual environment of its own (``.venv-kserve``) and the test runs this file there.
Reads one JSON request on stdin: ``{"url", "model", "headers", "inputs": [{"name", "datatype",
"data"}]}``; prints ``{"probabilities": [[...]], "labels": [...]}`` as kserve decoded them.
"""

from __future__ import annotations

import asyncio
import json
import sys

import kserve
import numpy as np

NUMPY_TYPE = {"BYTES": np.object_, "FP32": np.float32, "FP64": np.float64, "INT64": np.int64}


async def infer(request: dict) -> dict:
    rest = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2", retries=0))
    try:
        assert await rest.is_server_live(request["url"])
        inputs = []
        for spec in request["inputs"]:
            array = np.array(spec["data"], dtype=NUMPY_TYPE[spec["datatype"]])
            tensor = kserve.InferInput(spec["name"], list(array.shape), spec["datatype"])
            tensor.set_data_from_numpy(array, binary_data=False)
            inputs.append(tensor)
        body = kserve.InferRequest(model_name=request["model"], infer_inputs=inputs)
        response = await rest.infer(
            request["url"], body, model_name=request["model"], headers=request["headers"]
        )
    finally:
        await rest.close()
    outputs = {o.name: o.as_numpy() for o in response.outputs}
    labels = [v.decode() if isinstance(v, bytes) else str(v) for v in outputs["label"]]
    return {"probabilities": np.asarray(outputs["probabilities"]).tolist(), "labels": labels}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(infer(json.load(sys.stdin)))))
