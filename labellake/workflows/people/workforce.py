"""The local workforce: private work teams and their workers, in the state db.

A worker is an account with the role ``worker`` and one or more teams. Team names
follow Ground Truth's work team naming rule, and each team has the ARN a private
work team would have, so batch requests name it as they would on AWS.

The rule: this module owns the tables ``teams`` and ``team_members`` (their migrations
are ``WORKFORCE``); a worker's account is made and read through ``Accounts``.
"""

from __future__ import annotations

import re
from typing import Any

from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.workflows.labeling.store import timestamp
from labellake.workflows.people.accounts import ACCOUNTS, Accounts, hash_password, new_invite
from labellake.workflows.statedb import OnStateDb, Schema, StateDb, state_db

TEAM_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

# The local workforce's tables in the state db (after the accounts', which they name).
WORKFORCE = Schema(
    "workforce",
    (
        # 1: work teams and their workers.
        """
        CREATE TABLE teams (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE team_members (
            team TEXT NOT NULL COLLATE NOCASE REFERENCES teams(name) ON DELETE CASCADE,
            account TEXT NOT NULL COLLATE NOCASE REFERENCES accounts(name) ON DELETE CASCADE,
            PRIMARY KEY (team, account)
        );
        """,
    ),
    legacy=(3,),
)


class Workforce:
    """The work teams in one state db (or in the state db of a batch store)."""

    def __init__(self, state: StateDb | OnStateDb, region: str, account_id: str) -> None:
        db = state_db(state)
        # Its transactions add accounts too (a worker and their membership at once).
        self.db = db.subsystem(ACCOUNTS, WORKFORCE)
        self.region = region
        self.account_id = account_id
        self.accounts = Accounts(db)

    def workteam_arn(self, team: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:workteam/private-crowd/{team}"

    def add_team(self, name: str) -> dict[str, Any]:
        if not TEAM_NAME.fullmatch(name or ""):
            raise LabellakeError(
                f"team name '{name}': use 1-63 letters, digits and hyphens, starting and "
                "ending with a letter or digit (Ground Truth's work team rule)"
            )
        with self.db.transaction() as con:
            if con.execute("SELECT 1 FROM teams WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"team '{name}' exists; pick another name")
            con.execute("INSERT INTO teams (name, created_at) VALUES (?, ?)", (name, timestamp()))
        return self.team(name)

    def add_worker(
        self, team: str, name: str, password: str | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """Add a worker to ``team``; without a password, returns a one-time invite token."""
        token, stored_invite = new_invite() if password is None else (None, None)
        password_hash = "" if password is None else hash_password(password)
        with self.db.transaction() as con:
            if not con.execute("SELECT 1 FROM teams WHERE name = ?", (team,)).fetchone():
                raise NotFoundError(
                    f"no team named '{team}'; add it with `labellake workforce add-team {team}`"
                )
            self.accounts.insert(con, name, "worker", password_hash, stored_invite)
            con.execute("INSERT INTO team_members (team, account) VALUES (?, ?)", (team, name))
        return self.worker(name), token

    def worker(self, name: str) -> dict[str, Any]:
        account = self.accounts.get(name)
        return {
            "workerId": worker_id(account["name"]),
            "name": account["name"],
            "teams": self.teams_of(name),
        }

    def teams_of(self, account: str) -> list[str]:
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT team FROM team_members WHERE account = ? ORDER BY team", (account,)
            ).fetchall()
        return [row["team"] for row in rows]

    def team(self, name: str) -> dict[str, Any]:
        for team in self.teams():
            if team["workteamName"].lower() == name.lower():
                return team
        raise NotFoundError(f"no team named '{name}'; see `labellake workforce show`")

    def teams(self) -> list[dict[str, Any]]:
        """Every team with its workers, in GET /workforce/show's shape."""
        with self.db.connect() as con:
            teams = con.execute("SELECT name FROM teams ORDER BY name").fetchall()
            members = con.execute(
                "SELECT team, account FROM team_members ORDER BY account"
            ).fetchall()
        invited = self.accounts.invited()
        return [
            {
                "workteamName": team["name"],
                "workteamArn": self.workteam_arn(team["name"]),
                "source": "local",
                "workers": [
                    {
                        "workerId": worker_id(m["account"]),
                        "name": m["account"],
                        "invited": m["account"].lower() in invited,
                    }
                    for m in members
                    if m["team"].lower() == team["name"].lower()
                ],
            }
            for team in teams
        ]


def worker_id(account: str) -> str:
    """The worker id recorded in worker responses and activity events."""
    return f"local.{account.lower()}"
