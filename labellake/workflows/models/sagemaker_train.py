"""The training and serving script of a model run on SageMaker (scikit-learn container).

It travels in the run's source bundle with the one module it needs
(labellake/workflows/models/estimators.py), so the container needs nothing but
scikit-learn. Training reads ``train.csv`` from the train channel, holds out the
same fraction as a local run, prints the objective as
``validation:p95_abs_error=<value>`` (the metric a tuning job reads from the log),
refits on every row and writes ``model.joblib`` in the local artifact's shape.
Serving loads it (``model_fn``) and answers JSON rows (``input_fn``/``predict_fn``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

OBJECTIVE = "validation:p95_abs_error"


def hyperparameters() -> dict[str, Any]:
    """SM_HPS (the container's JSON of the job's hyperparameters), values JSON-decoded."""
    raw = json.loads(os.environ.get("SM_HPS") or "{}")
    decoded = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            decoded[name] = value
    return decoded


def train(channel: Path, model_dir: Path, given: dict[str, Any]) -> dict[str, float]:
    import joblib
    import pandas as pd

    from labellake.workflows.models import estimators

    frame = pd.read_csv(channel / "train.csv")
    target, numeric, categorical = given["target"], given["numeric"], given["categorical"]
    for name in categorical:
        frame[name] = frame[name].astype(str)
    estimator = given["estimator"]
    params = {name: given[name] for name in estimators.DEFAULTS[estimator] if name in given} | dict(
        given.get("params") or {}
    )
    features = [*numeric, *categorical]
    model, scores = estimators.fit_and_score(
        estimator,
        params,
        numeric,
        categorical,
        frame[features],
        frame[target].astype(float),
        int(given.get("seed", 0)),
        float(given.get("held_out_fraction", 0.2)),
    )
    print(f"{OBJECTIVE}={scores['p95_abs_error']:.6f}", flush=True)
    bundle = {
        "model": model,
        "model_name": given.get("model_name", "model"),
        "target": target,
        "numeric": numeric,
        "categorical": categorical,
        "profile": estimators.profile(frame, numeric, categorical),
        "params": {"estimator": estimator, **estimators.check_params(estimator, params)},
        "metrics": scores,
    }
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(bundle, model_dir / "model.joblib")
    (model_dir / "metrics.json").write_text(json.dumps(scores))
    return scores


# -- serving (the scikit-learn container's hooks) ---------------------------------------


def model_fn(model_dir: str) -> dict[str, Any]:
    import joblib

    return dict(joblib.load(Path(model_dir) / "model.joblib"))


def input_fn(body: str | bytes, content_type: str) -> Any:
    import pandas as pd

    if content_type != "application/json":
        raise ValueError(f"send application/json rows, not {content_type}")
    rows = json.loads(body)
    return pd.DataFrame(rows if isinstance(rows, list) else [rows])


def predict_fn(frame: Any, bundle: dict[str, Any]) -> list[float]:
    features = [*bundle["numeric"], *bundle["categorical"]]
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise ValueError(f"missing feature(s) {', '.join(missing)}")
    for name in bundle["categorical"]:
        frame[name] = frame[name].astype(str)
    return [float(v) for v in bundle["model"].predict(frame[features])]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    train(
        Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")),
        Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")),
        hyperparameters(),
    )
