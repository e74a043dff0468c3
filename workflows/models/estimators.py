"""The regressors a model run trains, their hyperparameter search spaces, the metrics.

Each model is one scikit-learn pipeline: a column transformer (standard scaling of
the numeric features, one-hot encoding of the categorical ones, unknown categories
ignored at prediction time) and the regressor, wrapped so that a non-negative
target is learned on a log scale. One object, saved as one artifact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score
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


def suggest(trial: Any, estimator: str, brief: bool) -> dict[str, Any]:
    """A trial's hyperparameters (optuna); ``brief`` caps the iterations of HPO trials."""
    if estimator == "gradient_boosting":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_iter": trial.suggest_int("max_iter", 50, 150 if brief else 400),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 64, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 40, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        }
    return {
        "layers": trial.suggest_int("layers", 1, 3),
        "units": trial.suggest_int("units", 8, 128, log=True),
        "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        "solver": trial.suggest_categorical("solver", ["adam", "sgd", "lbfgs"]),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
        "max_iter": 150 if brief else 500,
    }


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
