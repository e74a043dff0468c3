"""The regressors a model run trains, their hyperparameter search spaces, the metrics.

Each model is one scikit-learn pipeline: a column transformer (standard scaling of
the numeric features, one-hot encoding of the categorical ones, unknown categories
ignored at prediction time) and the regressor, wrapped so that a non-negative
target is learned on a log scale (not a 0/1 one: its predictions are probabilities). One
object, saved as one artifact.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from labellake.errors import LabellakeError

ESTIMATORS = ("gradient_boosting", "mlp")

DEFAULTS: dict[str, dict[str, Any]] = {
    "gradient_boosting": {
        "learning_rate": 0.1,
        "max_iter": 200,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 10,
        "l2_regularization": 0.0,
    },
    "mlp": {
        "layers": 2,
        "units": 64,
        "alpha": 1e-4,
        "solver": "adam",
        "learning_rate_init": 1e-3,
        "max_iter": 500,
    },
}


def check_params(estimator: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The estimator's defaults overlaid with ``params``; an unknown name is an error."""
    if estimator not in ESTIMATORS:
        raise LabellakeError(f"estimator: '{estimator}' is not one of {', '.join(ESTIMATORS)}")
    unknown = sorted(set(params or {}) - set(DEFAULTS[estimator]))
    if unknown:
        raise LabellakeError(
            f"params: {', '.join(unknown)} not a hyperparameter of {estimator} "
            f"({', '.join(DEFAULTS[estimator])})"
        )
    return {**DEFAULTS[estimator], **(params or {})}


def build(
    estimator: str,
    params: dict[str, Any],
    numeric: list[str],
    categorical: list[str],
    log_target: bool,
    seed: int = 0,
) -> Any:
    """The pipeline for ``estimator`` with ``params`` (see DEFAULTS for the names)."""
    params = check_params(estimator, params)
    if estimator == "gradient_boosting":
        regressor: Any = HistGradientBoostingRegressor(
            learning_rate=float(params["learning_rate"]),
            max_iter=int(params["max_iter"]),
            max_leaf_nodes=int(params["max_leaf_nodes"]),
            min_samples_leaf=int(params["min_samples_leaf"]),
            l2_regularization=float(params["l2_regularization"]),
            random_state=seed,
        )
    else:
        regressor = MLPRegressor(
            hidden_layer_sizes=(int(params["units"]),) * int(params["layers"]),
            alpha=float(params["alpha"]),
            solver=str(params["solver"]),
            learning_rate_init=float(params["learning_rate_init"]),
            max_iter=int(params["max_iter"]),
            early_stopping=params["solver"] != "lbfgs",
            random_state=seed,
        )
    columns = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    pipeline = Pipeline([("columns", columns), ("regressor", regressor)])
    if not log_target:
        return pipeline
    return TransformedTargetRegressor(
        regressor=pipeline, func=np.log1p, inverse_func=np.expm1, check_inverse=False
    )


# The search space: name -> (kind, low, high, log scale) or ("categorical", choices).
# HPO trials cap the iterations (BRIEF) so that each runs briefly.
SPACE: dict[str, dict[str, tuple[Any, ...]]] = {
    "gradient_boosting": {
        "learning_rate": ("float", 0.01, 0.3, True),
        "max_iter": ("int", 50, 400, False),
        "max_leaf_nodes": ("int", 8, 64, True),
        "min_samples_leaf": ("int", 2, 40, True),
        "l2_regularization": ("float", 1e-6, 10.0, True),
    },
    "mlp": {
        "layers": ("int", 1, 3, False),
        "units": ("int", 8, 128, True),
        "alpha": ("float", 1e-6, 1e-1, True),
        "solver": ("categorical", ("adam", "sgd", "lbfgs")),
        "learning_rate_init": ("float", 1e-4, 1e-2, True),
    },
}
BRIEF = {"gradient_boosting": {"max_iter": 150}, "mlp": {"max_iter": 150}}


def suggest(trial: Any, estimator: str, brief: bool) -> dict[str, Any]:
    """A trial's hyperparameters (optuna); ``brief`` caps the iterations of HPO trials."""
    params: dict[str, Any] = {}
    for name, (kind, *bounds) in SPACE[estimator].items():
        if kind == "categorical":
            params[name] = trial.suggest_categorical(name, list(bounds[0]))
            continue
        low, high, log = bounds
        high = min(high, BRIEF[estimator].get(name, high)) if brief else high
        suggest_number = trial.suggest_float if kind == "float" else trial.suggest_int
        params[name] = suggest_number(name, low, high, log=log)
    if "max_iter" not in params:
        params["max_iter"] = (
            BRIEF[estimator]["max_iter"] if brief else DEFAULTS[estimator]["max_iter"]
        )
    return params


def profile(frame: Any, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """Per feature: its kind, and the range (numbers) or the values (categories)."""
    described: dict[str, Any] = {}
    for name in numeric:
        column = frame[name].astype(float)
        described[name] = {
            "kind": "numeric",
            "min": float(column.min()),
            "max": float(column.max()),
            "median": float(column.median()),
            "integer": bool((column == column.round()).all()),
        }
    for name in categorical:
        counts = frame[name].astype(str).value_counts()
        described[name] = {
            "kind": "categorical",
            "values": sorted(counts.index.tolist())[:200],
            "mode": str(counts.index[0]),
        }
    return described


def held_out_split(x: Any, y: Any, fraction: float, seed: int) -> tuple[Any, Any, Any, Any]:
    """(x_train, x_test, y_train, y_test): the one seeded split a run is scored on."""
    return train_test_split(x, y, test_size=fraction, random_state=seed)


def fit_and_score(
    estimator: str,
    params: dict[str, Any],
    numeric: list[str],
    categorical: list[str],
    x: Any,
    y: Any,
    seed: int,
    held_out_fraction: float,
) -> tuple[Any, dict[str, Any]]:
    """Train on the training rows and score on the held-out ones, beside a baseline that
    predicts the training median; then the model to deploy, trained on every row."""
    x_train, x_test, y_train, y_test = held_out_split(x, y, held_out_fraction, seed)
    # A non-negative target is learned on a log scale; a 0/1 target (a probability, such
    # as the audit-risk model's) is not, so that its predictions stay probabilities.
    log_target = bool((y >= 0).all()) and not set(np.unique(y)) <= {0.0, 1.0}
    model = build(estimator, params, numeric, categorical, log_target, seed)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    fit_s = time.perf_counter() - started
    scores: dict[str, Any] = metrics(y_test, model.predict(x_test))
    baseline = metrics(y_test, np.full(len(y_test), float(np.median(y_train))))
    scores |= {
        "baseline_p95_abs_error": baseline["p95_abs_error"],
        "baseline_mae": baseline["mae"],
        "training_rows": len(x_train),
        "held_out_rows": len(x_test),
        "fit_s": round(fit_s, 3),
    }
    model = build(estimator, params, numeric, categorical, log_target, seed)
    model.fit(x, y)
    return model, scores


def metrics(actual: Any, predicted: Any) -> dict[str, float]:
    """p95 absolute error (the objective), MAE and R² of predictions on held-out rows."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    errors = np.abs(actual - predicted)
    return {
        "p95_abs_error": float(np.percentile(errors, 95)),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)) if len(actual) > 1 else float("nan"),
    }
