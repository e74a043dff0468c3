"""Models: start a TRAIN or HPO run, follow the runs, look at an HPO search, and ask a
READY endpoint what it predicts as one input varies."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from labellake.portal import auth, charts, data, ready
from labellake.workflows.models.workflow import EFFORT_MODEL, parse_run_request

st.title("Models")
models = data.models()

with st.expander("Start a run", expanded=not models.runs()):
    with st.form("model-run"):
        left, right = st.columns(2)
        mode = left.radio("Mode", ["TRAIN", "HPO"], horizontal=True, key="model-mode")
        model_name = right.text_input("Model name", EFFORT_MODEL, key="model-name")
        source = st.radio(
            "Data",
            ["Labeling effort (per task)", "Lake SQL query", "CSV upload"],
            horizontal=True,
            key="model-source",
        )
        query = st.text_area(
            "SQL query (for Lake SQL query)", placeholder="SELECT ... FROM annotations", height=80
        )
        upload = st.file_uploader("CSV file (for CSV upload)", type=["csv"])
        left, middle, right = st.columns(3)
        target = left.text_input("Target column", "", placeholder="seconds (labeling effort)")
        estimator = middle.selectbox(
            "Estimator",
            ["auto", "gradient_boosting", "mlp"],
            help="auto: TRAIN takes the newest HPO's best (else gradient boosting); HPO "
            "searches both.",
        )
        trials = right.number_input("HPO trials", min_value=1, max_value=500, value=20)
        started = st.form_submit_button("Start run", type="primary")
    if started:
        payload: dict[str, object] = {"modelName": model_name.strip()}
        if estimator != "auto":
            payload["estimator"] = estimator
        if target.strip():
            payload["target"] = target.strip()
        if mode == "HPO":
            payload["trials"] = int(trials)
        if source == "Lake SQL query":
            payload["query"] = query
        csv = upload.getvalue() if source == "CSV upload" and upload is not None else None
        if source == "CSV upload" and csv is None:
            st.error("CSV upload: choose a file first.")
        else:
            request = data.run(parse_run_request, payload, mode)
            run_id = request and data.run(models.start, request, auth.actor(), csv)
            if run_id:
                st.success(f"Run {run_id} started; its status follows below.")


def _metric(run: dict[str, object], name: str) -> float | None:
    metrics = run.get("metrics") or {}
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, int | float) else None


@st.fragment(run_every=3)
def runs_table() -> None:
    runs = models.runs()
    st.subheader("Runs")
    if not runs:
        st.info(
            "No model runs yet. Start one above, or `labellake model hpo --trials 20` then "
            "`labellake model train`; the labeling-effort dataset needs finished batches "
            "(`labellake demo --history 3`)."
        )
        return
    table = pd.DataFrame(
        [
            {
                "run": run["run_id"],
                "mode": run["mode"],
                "status": run["status"],
                "estimator": (run["params"] or {}).get("estimator"),
                "p95 abs error": _metric(run, "p95_abs_error"),
                "median baseline p95": _metric(run, "baseline_p95_abs_error"),
                "MAE": _metric(run, "mae"),
                "R²": _metric(run, "r2"),
                "rows": run["rows"],
                "endpoint": run["endpoint_id"],
                "error": f"{run['error']}: {run['cause']}" if run["error"] else "",
                "started": run["created_at"],
            }
            for run in runs
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    live = models.registry.endpoints(live_only=True)
    st.caption(
        f"{len(live)} of at most {models.config.max_endpoints} endpoints in service; "
        "deploying one more deletes the oldest."
    )


runs_table()

hpo_runs = [run for run in models.runs("HPO") if run["status"] != "ERROR"]
if hpo_runs:
    st.subheader("HPO search")
    chosen = st.selectbox("HPO run", [run["run_id"] for run in hpo_runs], key="hpo-run")
    trials = models.registry.trials(chosen)
    if trials:
        frame = pd.DataFrame(
            [
                {
                    "number": t["number"],
                    "value": t["value"],
                    "estimator": t["params"].get("estimator", ""),
                }
                for t in trials
                if t["value"] is not None
            ]
        )
        left, right = st.columns(2)
        with left:
            st.caption("Objective by trial (validation p95 absolute error; line: best so far)")
            st.altair_chart(charts.hpo_trials(frame), width="stretch")
        with right:
            run = models.registry.run(chosen)
            importance = (run["metrics"] or {}).get("importance") or {}
            st.caption("Parameter importance")
            if importance:
                st.altair_chart(
                    charts.param_importance(
                        pd.DataFrame(
                            {"parameter": list(importance), "importance": list(importance.values())}
                        )
                    ),
                    width="stretch",
                )
            else:
                st.caption("Known once the search has finished (and had 2 or more trials).")
    else:
        st.caption("No trial has finished yet.")

live = models.registry.endpoints(live_only=True)
st.subheader("Inference")
if not live:
    st.info("No endpoint in service: a run that reaches READY deploys one.")
    ready.stop()
names = {e["endpoint_id"]: e for e in live}
endpoint_id = st.selectbox(
    "Endpoint",
    list(names),
    format_func=lambda e: f"{names[e]['model_name']} · {names[e]['run_id']}",
    key="infer-endpoint",
)
served = data.run(models.served, endpoint_id)  # a gone artifact is said, not raised
if served is None:
    ready.stop()
endpoint, bundle = served
profile = bundle["profile"]
row: dict[str, object] = {}
columns = st.columns(4)
for index, (feature, described) in enumerate(profile.items()):
    cell = columns[index % 4]
    if described["kind"] == "numeric":
        if described.get("integer"):
            row[feature] = cell.number_input(
                feature,
                value=round(described["median"]),
                step=1,
                key=f"infer-{endpoint_id}-{feature}",
            )
        else:
            row[feature] = cell.number_input(
                feature, value=float(described["median"]), key=f"infer-{endpoint_id}-{feature}"
            )
    else:
        options = list(described["values"]) or [described["mode"]]
        row[feature] = cell.selectbox(
            feature,
            options,
            index=options.index(described["mode"]) if described["mode"] in options else 0,
            key=f"infer-{endpoint_id}-{feature}",
        )
swept = st.selectbox("Vary", list(profile), key=f"infer-{endpoint_id}-sweep")
answer = data.run(models.infer, endpoint_id, row, {"feature": swept})
if answer:
    st.metric(f"Predicted {answer['target']}", f"{answer['predictions'][0]:,.1f}")
    sweep = pd.DataFrame(
        {"value": answer["range"]["values"], "prediction": answer["range"]["predictions"]}
    )
    st.altair_chart(
        charts.prediction_sweep(
            sweep, swept, answer["target"], profile[swept]["kind"] == "numeric"
        ),
        width="stretch",
    )
