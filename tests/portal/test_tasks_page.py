"""The Tasks page and the workforce management, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from labellake.settings import load_settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request

APP = str(Path(__file__).parents[2] / "labellake/portal/app.py")


def _page(page: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(f"screens/{page}.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A home with two local teams and a local batch whose level 1 is waiting for people."""
    monkeypatch.setenv("LABELLAKE_HOME", str(tmp_path / "home"))
    engine = build_engine(open_home(load_settings()))
    force = Workforce(engine.state, engine.config.region, engine.config.account)
    force.add_team("first-level")
    force.add_team("second-level")
    force.add_worker("first-level", "ann", "ann-password-1")
    force.add_worker("second-level", "bea", "bea-password-1")
    samples = synthetic.generate(engine.objects, dataset="samples/p", clips=1, frames=4)
    engine.submit({**demo_request("page", samples), "backend": "local"})
    engine.advance("page")
    return engine


def test_without_workers_the_page_says_how_to_add_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELLAKE_HOME", str(tmp_path / "empty"))
    app = _page("tasks")
    assert any("labellake workforce add-worker" in i.value for i in app.info)


def test_a_worker_claims_opens_and_returns_a_task(running) -> None:  # type: ignore[no-untyped-def]
    local = running.backends["local"]
    app = _page("tasks")
    app.selectbox(key="tasks-worker").select("ann").run()
    frame = app.dataframe[0].value
    assert list(frame["jobName"]) == ["page-vehicle", "page-lane"]
    next(b for b in app.button if b.label == "Start labeling page-lane").click().run()
    assert not app.exception
    assert app.subheader[0].value == "Label: page-lane"
    [held] = local.held("ann")
    assert held.job_name == "page-lane"
    next(b for b in app.button if b.label == "Return task").click().run()
    assert local.held("ann") == [] and app.subheader[0].value == "Queue of your teams"
    assert [e["event_type"] for e in local.events(held.job_id)] == [
        "TasksAccepted",
        "TasksReturned",
    ]


def test_another_teams_task_is_refused(running) -> None:  # type: ignore[no-untyped-def]
    local = running.backends["local"]
    task = local.claim("ann")
    app = _page("tasks")
    app.selectbox(key="tasks-worker").select("bea").run()
    assert app.info  # bea's team has nothing running yet
    app.session_state["tasks-open"] = task.key
    app.run()
    assert any("belongs to team first-level, and bea is not in it" in e.value for e in app.error)
    assert local.held("ann")[0].key == task.key  # ann keeps it


def test_admins_add_teams_and_invite_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELLAKE_HOME", str(tmp_path / "home"))
    app = _page("workforce")
    app.text_input[0].input("labelers")
    next(b for b in app.button if b.label == "Add team").click().run()
    assert any("Team labelers added" in s.value for s in app.success)
    app.text_input[0].input("labelers")
    next(b for b in app.button if b.label == "Add team").click().run()
    assert any("team 'labelers' exists" in e.value for e in app.error)
    next(t for t in app.text_input if t.label == "Worker name").input("cy")
    next(b for b in app.button if b.label == "Invite worker").click().run()
    assert any("cy added to labelers" in s.value for s in app.success)
    token = app.code[0].value
    engine = build_engine(open_home(load_settings()))
    force = Workforce(engine.state, engine.config.region, engine.config.account)
    assert force.team("labelers")["workers"] == [
        {"workerId": "local.cy", "name": "cy", "invited": True}
    ]
    force.accounts.accept_invite("cy", token, "cy-new-password")
    assert force.accounts.sign_in("cy", "cy-new-password")["role"] == "worker"


def test_the_batch_form_sends_a_batch_to_the_local_workforce(running) -> None:  # type: ignore[no-untyped-def]
    app = _page("batches")
    app.text_input[0].input("formlocal").run()
    clips = next(s for s in app.multiselect if s.label == "Clips")
    clips.set_value(clips.options[:1]).run()
    next(s for s in app.selectbox if s.label == "Labeling backend").select("local").run()
    assert app.json[0].value and '"backend": "local"' in app.json[0].value
    next(b for b in app.button if b.label == "Submit batch").click().run()
    assert not app.error, [e.value for e in app.error]
    assert {j["backend"] for j in running.state.jobs("formlocal")} == {"local"}
