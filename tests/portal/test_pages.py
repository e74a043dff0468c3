"""Every portal page, through Streamlit's AppTest, on an empty lake and on the demo lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from labellake.portal.cli.main import main

APP = str(Path(__file__).parents[2] / "labellake/portal/app.py")
PAGES = [
    "overview",
    "batches",
    "annotations",
    "workforce",
    "quality",
    "documents",
    "benchmarks",
    "models",
    "sql_console",
]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo-home")
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "demo", "--batch-id", "demo1", "--clips", "2", "--frames", "12"])
    assert done.value.code == 0
    return home


def open_page(home: Path, page: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LABELLAKE_HOME", str(home))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    if page != "overview":
        app.switch_page(f"screens/{page}.py")
        app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize("page", PAGES)
def test_page_on_an_empty_lake(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_page(tmp_path / "empty", page, monkeypatch)
    assert not app.error
    if page in ("overview", "annotations", "workforce"):
        assert any("labellake demo" in info.value for info in app.info)
    if page == "documents":
        assert any("labellake documents sample" in info.value for info in app.info)
    if page == "benchmarks":
        assert any("labellake bench published" in info.value for info in app.info)
    if page == "models":
        assert any("labellake model hpo" in info.value for info in app.info)


@pytest.mark.parametrize("page", PAGES)
def test_page_on_the_demo_lake(page: str, demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_page(demo_home, page, monkeypatch)
    assert not app.error
    if page == "models":  # the demo's audits trained the audit-risk model
        runs = next(d.value for d in app.dataframe if "run" in d.value.columns)
        assert set(runs["run"].str.split("-train-").str[0]) == {"audit-risk"}
        assert list(runs["status"]) == ["READY"] * len(runs)
    assert not [info.value for info in app.info if page != "models"]
    if page == "overview":
        metrics = {m.label: m.value for m in app.metric}
        assert metrics["Batches"] == "1" and metrics["Objects labeled"] != "0"
    if page == "batches":
        assert "demo1: COMPLETE" in [s.value for s in app.subheader]


def test_the_batch_form_submits_a_valid_request(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "batches", monkeypatch)
    app.text_input[0].input("formbatch").run()
    clips = next(s for s in app.multiselect if s.label == "Clips")
    assert len(clips.options) == 2  # the demo's clips
    clips.set_value(clips.options[:1]).run()
    preview = app.json[0].value
    assert "portal/manifests/formbatch.manifest" in preview
    submit = next(b for b in app.button if b.label == "Submit batch")
    submit.click().run()
    assert not app.error, [e.value for e in app.error]
    assert any("formbatch submitted" in s.value for s in app.success)
    from labellake.settings import Settings
    from labellake.workflows.compose import build_engine, open_home

    engine = build_engine(open_home(Settings(home=demo_home)))
    assert [j["job_name"] for j in engine.state.jobs("formbatch")] == [
        "formbatch-vehicle",
        "formbatch-lane",
        "formbatch-vehicle-audit",
        "formbatch-lane-audit",
    ]
    assert engine.run_to_end("formbatch", poll_s=0.05) == "COMPLETE"
    manifest = engine.objects.read_text("portal/manifests/formbatch.manifest").splitlines()
    assert len(manifest) == 1 and manifest[0].endswith('_seq.json"}')
    assert engine.state.job("formbatch-vehicle")["object_count"] == 1  # the one picked clip


def test_a_bad_form_shows_the_field(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_page(demo_home, "batches", monkeypatch)
    app.text_input[0].input("bad_id").run()
    app.radio[0].set_value("An input manifest").run()
    next(b for b in app.button if b.label == "Submit batch").click().run()
    assert any("batchId" in e.value for e in app.error)
    # A refused request leaves no label configs behind.
    from labellake.settings import Settings
    from labellake.workflows.compose import open_home

    objects = open_home(Settings(home=demo_home)).objects
    assert not [k for k in objects.list("portal") if "bad_id" in k]


def test_the_delete_dialog_lists_the_children(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "batches", monkeypatch)
    next(s for s in app.selectbox if s.label == "Batch").select("demo1").run()
    next(b for b in app.button if b.label == "Delete batch…").click().run()
    text = " ".join(m.value for m in app.markdown)
    assert "demo1-vehicle" in text and "demo1-lane-audit" in text and "lake files" in text


def test_sql_console_runs_and_refuses(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_page(demo_home, "sql_console", monkeypatch)
    app.text_area[0].input("SELECT count(*) AS n FROM annotations").run()
    next(b for b in app.button if b.label == "Run").click().run()
    assert app.dataframe and int(app.dataframe[-1].value["n"][0]) > 0, [e.value for e in app.error]
    app.text_area[0].input("DROP VIEW annotations").run()
    next(b for b in app.button if b.label == "Run").click().run()
    assert any("DROP is refused" in e.value for e in app.error)


def test_workforce_per_team_and_per_worker(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "workforce", monkeypatch)
    teams = app.dataframe[0].value
    assert sorted(teams["team"]) == ["first-level", "second-level"]
    assert (teams["tasks"] > 0).all() and teams["objects_audited"].notna().any()
    workers = app.dataframe[1].value
    assert set(workers["team"]) == {"first-level", "second-level"}
    next(s for s in app.selectbox if s.label == "Team").select("first-level").run()
    workers = app.dataframe[1].value
    assert set(workers["team"]) == {"first-level"} and workers["share_unchanged"].notna().all()
    picked = next(s for s in app.selectbox if s.label == "Worker").value
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Tasks"]) == int(workers[workers["worker"] == picked]["tasks"].sum()) > 0


def test_annotations_by_batch_job_and_class(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "annotations", monkeypatch)
    summary = app.dataframe[0].value
    assert "demo1" in set(summary["batch_id"])
    classes = next(s for s in app.multiselect if s.label == "Classes")
    assert {"Vehicle", "Lane"} <= set(classes.options)
    classes.set_value(["Lane"]).run()
    summary = app.dataframe[0].value
    assert set(summary["label"]) == {"Lane"} and set(summary["shape"]) == {"polyline"}
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Tracks (objects)"].replace(",", "")) == int(summary["tracks"].sum()) > 0
    assert any("No boxes" in c.value for c in app.caption)
    next(s for s in app.multiselect if s.label == "Batches").set_value([]).run()
    assert app.dataframe[0].value.empty and not app.exception


def sign_in(app: AppTest, name: str, password: str) -> AppTest:
    app.text_input(key="sign-in-name").input(name)
    app.text_input(key="sign-in-password").input(password)
    next(b for b in app.button if b.label == "Sign in").click().run()
    return app


def test_with_sign_in_on_every_page_waits_for_an_account(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.workflows.people.accounts import Accounts
    from labellake.workflows.statedb import StateDb

    accounts = Accounts(StateDb(demo_home / "state.db"))
    accounts.add("ann", "analyst-pass", "analyst")
    accounts.add("ada", "admin-pass", "admin")
    monkeypatch.setenv("LABELLAKE_HOME", str(demo_home))
    monkeypatch.setenv("LABELLAKE_PORTAL_AUTH", "1")
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert [t.value for t in app.title] == ["Sign in to labellake"] and not app.metric
    sign_in(app, "ann", "not-her-password")
    assert any("wrong account name or password" in e.value for e in app.error)
    assert not app.metric
    sign_in(app, "ann", "analyst-pass")
    assert not app.exception and {m.label for m in app.metric} >= {"Batches"}
    assert any("Signed in as **ann** (analyst)" in c.value for c in app.sidebar.caption)
    next(b for b in app.sidebar.button if b.label == "Sign out").click().run()
    assert [t.value for t in app.title] == ["Sign in to labellake"] and not app.metric
    for name, password, may_delete in [("ann", "analyst-pass", False), ("ada", "admin-pass", True)]:
        app = sign_in(AppTest.from_file(APP, default_timeout=60).run(), name, password)
        app.switch_page("screens/batches.py").run()
        next(s for s in app.selectbox if s.label == "Batch").select("demo1").run()
        assert next(b for b in app.button if b.label == "Delete batch…").disabled is not may_delete


def test_with_sign_in_on_and_no_accounts_the_portal_says_how_to_add_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELLAKE_HOME", str(tmp_path / "fresh"))
    monkeypatch.setenv("LABELLAKE_PORTAL_AUTH", "1")
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert any("labellake account add" in e.value for e in app.error)


def test_the_frame_viewer_counts_what_the_audit_changed(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "annotations", monkeypatch)
    next(s for s in app.selectbox if s.label == "Job").select("demo1-vehicle").run()
    overlay = next(s for s in app.selectbox if s.label == "Audit to overlay")
    assert overlay.options == ["(none)", "demo1-vehicle-audit"]
    overlay.select("demo1-vehicle-audit").run()
    assert not app.exception
    [summary] = [c.value for c in app.caption if c.value.startswith("On this frame the audit")]
    assert "unchanged:" in summary and "deleted:" in summary


def test_documents_are_listed_with_their_paragraphs_and_negatives(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "documents", monkeypatch)
    listing = app.dataframe[0].value
    assert len(listing) == 4 and set(listing["status"]) == {"ok"}
    assert [m.label for m in app.metric][:2] == ["Overall sentiment", "Positive"]
    next(b for b in app.button if b.label == "Negative paragraphs").click().run()
    [negative] = [s.value for s in app.subheader if s.value.startswith("Negative paragraphs")]
    assert int(negative.split("(")[1].rstrip(")")) > 0


def test_benchmarks_show_the_reference_ratios(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "benchmarks", monkeypatch)
    ratios = app.dataframe[0].value
    assert len(ratios) == 10 and set(ratios["source"]) == {"published"}
    best = ratios[(ratios["device"] == "inf1.6xlarge") & (ratios["mode"] == "pipeline_parallel")]
    best = best[best["batch_size"] == 1].iloc[0]
    assert round(best["throughput_ratio"], 1) == 12.0  # the reference's "12x", g4dn batch 1
    assert round(best["cost_ratio"], 1) == 3.3
    next(s for s in app.multiselect if s.label == "Device").set_value(["g4dn.xlarge"]).run()
    assert set(app.dataframe[0].value["device"]) == {"g4dn.xlarge"}


def test_workers_sign_in_with_their_invite_and_see_no_dashboards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.workflows.people.workforce import Workforce
    from labellake.workflows.statedb import StateDb

    home = tmp_path / "home"
    force = Workforce(StateDb(home / "state.db"), "us-east-1", "111122223333")
    force.add_team("first-level")
    _, token = force.add_worker("first-level", "wendy")
    monkeypatch.setenv("LABELLAKE_HOME", str(home))
    monkeypatch.setenv("LABELLAKE_PORTAL_AUTH", "1")
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.text_input(key="invite-name").input("wendy")
    app.text_input(key="invite-token").input("not-the-token")
    app.text_input(key="invite-password").input("wendy-password")
    next(b for b in app.button if b.label == "Set password and sign in").click().run()
    assert any("unknown or used invite" in e.value for e in app.error)
    app.text_input(key="invite-name").input("wendy")
    app.text_input(key="invite-token").input(token)
    app.text_input(key="invite-password").input("wendy-password")
    next(b for b in app.button if b.label == "Set password and sign in").click().run()
    assert not app.exception
    assert app.title[0].value == "Tasks" and not app.metric  # a worker sees only their tasks
    assert force.accounts.sign_in("wendy", "wendy-password")["role"] == "worker"


@pytest.fixture(scope="module")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo lake with one earlier batch, an HPO run and a TRAIN run of the effort model."""
    home = tmp_path_factory.mktemp("model-home")
    for argv in (
        ["demo", "--batch-id", "demo1", "--clips", "1", "--frames", "6", "--history", "1"],
        ["model", "hpo", "--trials", "3"],
        ["model", "train"],
    ):
        with pytest.raises(SystemExit) as done:
            main(["--home", str(home), *argv])
        assert done.value.code == 0, argv
    return home


def test_models_page_shows_runs_the_search_and_inference(
    model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(model_home, "models", monkeypatch)
    assert not app.error and not app.info
    runs = app.dataframe[0].value
    runs = runs[runs["run"].str.startswith("labeling-effort")]  # beside the audit-risk runs
    assert list(runs["status"]) == ["READY", "READY"] and set(runs["mode"]) == {"TRAIN", "HPO"}
    assert (runs["p95 abs error"] < runs["median baseline p95"]).all()
    assert "Objective by trial" in " ".join(c.value for c in app.caption)
    predicted = next(m for m in app.metric if m.label == "Predicted seconds")
    assert float(predicted.value.replace(",", "")) > 0
    frames = next(n for n in app.number_input if n.label == "frames")
    frames.set_value(40).run()
    assert not app.error
    larger = float(
        next(m for m in app.metric if m.label == "Predicted seconds").value.replace(",", "")
    )
    assert larger > float(predicted.value.replace(",", ""))


def test_a_run_started_in_the_form_is_listed(
    model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(model_home, "models", monkeypatch)
    app.text_input(key="model-name").input("from-the-form")
    next(b for b in app.button if b.label == "Start run").click().run()
    assert not app.error, [e.value for e in app.error]
    assert any("from-the-form" in s.value and "started" in s.value for s in app.success)
    from labellake.portal import data

    data.models().wait()
    app.run()
    assert "from-the-form" in " ".join(app.dataframe[0].value["run"])


def test_the_batch_form_estimates_worker_hours(
    model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(model_home, "batches", monkeypatch)
    app.text_input[0].input("estimated").run()
    clips = next(s for s in app.multiselect if s.label == "Clips")
    clips.set_value(clips.options[:2]).run()
    estimate = next(m for m in app.metric if m.label == "Estimated worker-hours")
    assert estimate.value.endswith(" h") and float(estimate.value[:-2]) > 0


def test_the_batch_form_says_when_no_effort_model_exists(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "batches", monkeypatch)
    assert any("no READY labeling-effort model" in c.value for c in app.caption)


FIXTURES = Path(__file__).parents[1] / "fixtures"
IMPORTS = [
    ("cvat", FIXTURES / "cvat/datumaro-for-video.xml", "cvat-video"),
    ("cvat", FIXTURES / "cvat/cats-images.xml", "cvat-images"),
    ("labelstudio", FIXTURES / "labelstudio/image_rectangles.json", "labelstudio"),
    ("coco", FIXTURES / "coco/mot_sample.json", "coco"),
]


@pytest.fixture(scope="module")
def imported_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding one job imported from each other tool's format, and nothing else."""
    home = tmp_path_factory.mktemp("imported-home")
    for fmt, path, _ in IMPORTS:
        with pytest.raises(SystemExit) as done:
            main(["--home", str(home), "import", fmt, str(path)])
        assert done.value.code == 0
    return home


@pytest.mark.parametrize("page", ["annotations", "quality", "workforce"])
def test_pages_on_jobs_imported_from_every_format(
    page: str, imported_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(imported_home, page, monkeypatch)
    assert not app.error
    if page == "annotations":
        (summary, *_) = app.dataframe
        shown = set(summary.value["source_format"])
        assert shown == {expected for _, _, expected in IMPORTS}
    if page == "quality":
        formats = set(app.dataframe[0].value["source_format"])
        assert formats <= {expected for _, _, expected in IMPORTS} and formats
    if page == "workforce":  # Label Studio's completed_by and lead_time, per worker
        workers = [
            set(frame.value[column].astype(str))
            for frame in app.dataframe
            for column in ("worker", "worker_id")
            if column in frame.value.columns
        ]
        assert any({"1", "2"} <= shown for shown in workers), workers


def test_quality_shows_what_is_left_and_the_workers_error_rates(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "quality", monkeypatch)
    headers = [header.value for header in app.subheader]
    assert headers[:2] == ["Errors left in what ships", "Worker error rates"]
    bounds = app.dataframe[0].value
    bounds = bounds[bounds["batch_id"] == "demo1"]  # the module's other tests add batches
    assert set(bounds["audit_job"]) == {"demo1-vehicle-audit", "demo1-lane-audit"}
    # The demo audits everything, so nothing is left, with certainty.
    assert (bounds["audited"] == bounds["objects"]).all() and (bounds["upper_rate"] == 0).all()
    assert len(app.get("vega_lite_chart")) == 2  # the intervals, and findings by check
    app.selectbox(key="reliability_type").set_value("spurious").run()
    assert not app.exception and "What to audit next" not in headers  # nothing routed by risk


def test_the_batch_form_routes_audits_by_risk_within_a_budget(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_page(demo_home, "batches", monkeypatch)
    app.text_input[0].input("riskform").run()
    clips = next(s for s in app.multiselect if s.label == "Clips")
    clips.set_value(clips.options).run()
    routing = next(s for s in app.selectbox if s.label == "What audit jobs see")
    routing.set_value("The riskiest objects, up to an audit budget").run()
    next(n for n in app.number_input if n.label.startswith("Audit budget")).set_value(0.5).run()
    request = app.json[0].value
    request = json.loads(request) if isinstance(request, str) else request
    next(b for b in app.button if b.label == "Submit batch").click().run()
    assert not app.error, [e.value for e in app.error]
    audits = [j for j in request["labelingJobs"] if j["jobLevel"] == 2]
    assert {json_key(j) for j in audits} == {("risk", 0.5)}
    from labellake.settings import Settings
    from labellake.workflows.compose import build_engine, open_home

    engine = build_engine(open_home(Settings(home=demo_home)))
    assert engine.run_to_end("riskform", poll_s=0.05) == "COMPLETE"
    shown = engine.show("riskform")["qualityBound"]
    assert {b["mode"] for b in shown} == {"risk"} and len(shown) == 2
    assert all(0 <= b["residualRate"] <= b["upperRate"] <= 1 for b in shown)
    page = open_page(demo_home, "batches", monkeypatch)
    batch = next(s for s in page.selectbox if s.label == "Batch")
    batch.set_value("riskform").run()
    bound = next(d.value for d in page.dataframe if "upperRate" in d.value.columns)
    assert set(bound["auditJob"]) == {"riskform-vehicle-audit", "riskform-lane-audit"}


def json_key(job: dict) -> tuple[str, float]:  # type: ignore[type-arg]
    qa = job["inputConfig"]["qaFilter"]
    return qa["mode"], qa["auditBudget"]


def test_quality_shows_gold_scores_and_consensus_disagreements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.settings import Settings
    from labellake.workflows.compose import build_engine, open_home
    from labellake.workflows.samples import synthetic

    home = tmp_path / "home"
    engine = build_engine(open_home(Settings(home=home, simulated_job_seconds=0)))
    work = synthetic.generate(engine.objects, dataset="w", clips=3, frames=12, seed=5)
    gold = synthetic.generate(engine.objects, dataset="g", clips=2, frames=12, seed=6)
    request = {
        "batchId": "qp",
        "goldManifestS3Uri": synthetic.gold_manifest(engine.objects, gold, "g"),
        "labelingJobs": [
            {
                "jobName": "qp-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": work.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": work.manifest_uri},
                "consensusCount": 2,
                "goldRate": 0.3,
            }
        ],
    }
    engine.submit(request)
    assert engine.run_to_end("qp", poll_s=0) == "COMPLETE"
    app = open_page(home, "quality", monkeypatch)
    headers = [header.value for header in app.subheader]
    assert "Gold scores" in headers and "Consensus disagreements" in headers
    tables = [frame.value for frame in app.dataframe]
    scores = next(t for t in tables if "idf1" in t.columns)
    assert "(all workers)" in set(scores["worker_id"])
    objects = next(t for t in tables if "label_agreement" in t.columns)
    assert objects["agreement"].is_monotonic_increasing


def test_the_batch_form_takes_a_consensus_and_gold_clips(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.settings import Settings
    from labellake.workflows.compose import build_engine, open_home
    from labellake.workflows.samples import synthetic

    engine = build_engine(open_home(Settings(home=demo_home)))
    gold_set = synthetic.generate(engine.objects, dataset="formgold", clips=2, frames=12, seed=9)
    gold = synthetic.gold_manifest(engine.objects, gold_set, "formgold")
    app = open_page(demo_home, "batches", monkeypatch)
    app.text_input[0].input("consform").run()
    clips = next(s for s in app.multiselect if s.label == "Clips")
    clips.set_value(clips.options).run()
    next(n for n in app.number_input if n.label.startswith("Workers per clip")).set_value(2).run()
    next(t for t in app.text_input if t.label.startswith("Gold manifest")).input(gold).run()
    next(n for n in app.number_input if n.label.startswith("Gold rate")).set_value(0.5).run()
    request = app.json[0].value
    request = json.loads(request) if isinstance(request, str) else request
    assert request["goldManifestS3Uri"] == gold
    jobs = {j["jobName"]: j for j in request["labelingJobs"]}
    assert jobs["consform-vehicle"]["consensusCount"] == 2
    assert jobs["consform-vehicle"]["goldRate"] == 0.5
    # Polylines are neither consolidated nor scored on gold.
    assert "consensusCount" not in jobs["consform-lane"] and "goldRate" not in jobs["consform-lane"]
    next(b for b in app.button if b.label == "Submit batch").click().run()
    assert not app.error, [e.value for e in app.error]
    assert engine.run_to_end("consform", poll_s=0.05) == "COMPLETE"
    assert (
        engine.lake.query(
            "SELECT count(*) FROM consensus_objects WHERE job_name = 'consform-vehicle'"
        )
        .column(0)[0]
        .as_py()
        > 0
    )


def test_documents_show_each_row_role_and_leave_figure_text_out_of_the_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from labellake.settings import Settings
    from labellake.workflows.compose import open_home

    # A real Textract response with a title, section headers, text, a table and figures
    # (benchmarks/data/textract_layout/ORIGIN.md says where it is from).
    corpus = Path(__file__).parents[2] / "benchmarks/data/textract_layout"
    source = tmp_path / "matrix.json"
    source.write_bytes(gzip.decompress((corpus / "awstxr-matrix.json.gz").read_bytes()))
    home = tmp_path / "home"
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "documents", "ingest", str(source)])
    assert done.value.code == 0
    app = open_page(home, "documents", monkeypatch)
    roles = next(m for m in app.multiselect if m.label == "Roles")
    assert {"figure", "table", "section_header", "paragraph"} <= set(roles.value)
    shown = "\n".join(str(h.proto.body) for h in app.get("html") if "<small" in h.proto.body)
    assert "· figure ·" in shown and "· section header ·" in shown and "· table ·" in shown
    roles.set_value(["figure"]).run()
    shown = [str(h.proto.body) for h in app.get("html") if "<small" in h.proto.body]
    assert shown and all("· figure ·" in body for body in shown)
    lake = open_home(Settings(home=home), create=False).lake
    figures = lake.query("SELECT sentiment FROM paragraphs WHERE role = 'figure'").to_pylist()
    assert figures and all(row["sentiment"] is None for row in figures)
    [by_header] = lake.query("SELECT sum(paragraphs) AS n FROM header_sentiment").to_pylist()
    [texts] = lake.query(
        "SELECT count(*) AS n FROM paragraphs WHERE sentiment IS NOT NULL "
        "AND role IN ('paragraph', 'list', 'table')"
    ).to_pylist()
    assert by_header["n"] == texts["n"] > 0


def test_benchmarks_filter_by_precision_and_runtime_and_mark_low_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.etl.benchmarks import results_table
    from labellake.settings import Settings
    from labellake.workflows.compose import open_home

    home = tmp_path / "home"
    base = {
        "run_id": "run-precision",
        "source": "measured",
        "model": "all-MiniLM-L6-v2",
        "device": "cpu",
        "mode": "intra_op",
        "batch_size": 1,
        "workers": 1,
        "seq_len": 128,
        "price_per_hour": 0.1,
        "status": "complete",
        "accuracy_sentences": 1000,
    }
    settings = [  # precision, runtime, sentences/s, mean and worst cosine to fp32 eager
        ("fp32", "eager", 24.0, 1.0, 1.0),
        ("int8", "eager", 66.0, 0.974, 0.93),
        ("fp32", "onnxruntime", 27.0, 1.0, 1.0),
        ("int8", "onnxruntime", 62.0, 0.992, 0.983),
    ]
    rows = [
        {
            **base,
            "precision": precision,
            "runtime": runtime,
            "backend": runtime,
            "throughput": throughput,
            "accuracy_mean_cosine": mean,
            "accuracy_worst_cosine": worst,
            "accuracy_ok": mean >= 0.99,
        }
        for precision, runtime, throughput, mean, worst in settings
    ]
    open_home(Settings(home=home)).lake.write(
        "benchmark_results", "run-precision", results_table(rows)
    )
    app = open_page(home, "benchmarks", monkeypatch)
    assert "Cost per 1M inferences against accuracy" in [s.value for s in app.subheader]
    [warning] = [w.value for w in app.warning]
    assert "int8 eager" in warning and "int8 onnxruntime" not in warning
    table = app.dataframe[0].value
    assert {"precision", "runtime", "accuracy_mean_cosine", "accuracy_ok"} <= set(table.columns)
    next(m for m in app.multiselect if m.label == "Runtime").set_value(["onnxruntime"]).run()
    assert set(app.dataframe[0].value["runtime"]) == {"onnxruntime"} and not app.warning
    next(m for m in app.multiselect if m.label == "Precision").set_value(["int8"]).run()
    assert list(app.dataframe[0].value["precision"]) == ["int8"]
