"""The local workforce: teams, workers, invites, and GET /workforce/show."""

from __future__ import annotations

from pathlib import Path

import pytest

from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.workflows.people.accounts import SignInError
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.statedb import StateDb


@pytest.fixture
def force(tmp_path: Path) -> Workforce:
    return Workforce(StateDb(tmp_path / "state.db"), "eu-west-1", "123456789012")


def test_teams_and_workers(force: Workforce) -> None:
    team = force.add_team("first-level")
    assert team["workteamArn"] == (
        "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/first-level"
    )
    worker, token = force.add_worker("first-level", "ann", "ann-password")
    assert token is None and worker == {
        "workerId": "local.ann",
        "name": "ann",
        "teams": ["first-level"],
    }
    assert force.accounts.sign_in("ann", "ann-password")["role"] == "worker"
    [shown] = force.teams()
    assert [w["name"] for w in shown["workers"]] == ["ann"] and shown["source"] == "local"


@pytest.mark.parametrize("name", ["", "-lead", "team_1", "x" * 64])
def test_team_names_follow_ground_truth(force: Workforce, name: str) -> None:
    with pytest.raises(LabellakeError, match="team name"):
        force.add_team(name)


def test_nothing_is_added_twice_or_to_a_missing_team(force: Workforce) -> None:
    force.add_team("first-level")
    with pytest.raises(ConflictError, match="team 'FIRST-LEVEL' exists"):
        force.add_team("FIRST-LEVEL")
    force.add_worker("first-level", "ann", "ann-password")
    with pytest.raises(ConflictError, match="account 'Ann' exists"):
        force.add_worker("first-level", "Ann", "other-password")
    with pytest.raises(NotFoundError, match="no team named 'second-level'"):
        force.add_worker("second-level", "bob", "bob-password")
    assert [a["name"] for a in force.accounts.list()] == ["ann"]  # bob was not half-added


def test_an_invite_sets_the_first_password_once(force: Workforce) -> None:
    force.add_team("second-level")
    worker, token = force.add_worker("second-level", "bea")
    assert token and force.teams()[0]["workers"][0]["invited"]
    with pytest.raises(SignInError):
        force.accounts.sign_in("bea", "")  # no password until the invite is used
    with pytest.raises(SignInError, match="unknown or used invite"):
        force.accounts.accept_invite("bea", "guess", "bea-password")
    force.accounts.accept_invite("bea", token, "bea-password")
    assert force.accounts.sign_in("bea", "bea-password")["name"] == "bea"
    with pytest.raises(SignInError, match="unknown or used invite"):
        force.accounts.accept_invite("bea", token, "another-password")
    assert not force.teams()[0]["workers"][0]["invited"]
