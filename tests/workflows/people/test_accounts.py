"""Portal accounts in the state db: argon2 hashes, sign-in, lockout."""

from __future__ import annotations

from pathlib import Path

import pytest

from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.workflows.people import accounts as accounts_module
from labellake.workflows.people.accounts import Accounts, SignInError
from labellake.workflows.statedb import StateDb


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    return Accounts(StateDb(tmp_path / "state.db"))


def test_an_account_signs_in_with_its_password_only(accounts: Accounts, tmp_path: Path) -> None:
    added = accounts.add("alice", "correct horse", "admin")
    assert added["name"] == "alice" and added["role"] == "admin"
    assert b"correct horse" not in (tmp_path / "state.db").read_bytes()
    signed_in = accounts.sign_in("alice", "correct horse")
    assert signed_in["role"] == "admin" and signed_in["last_sign_in_at"]
    with pytest.raises(SignInError, match="wrong account name or password") as wrong:
        accounts.sign_in("alice", "wrong horse")
    with pytest.raises(SignInError) as unknown:
        accounts.sign_in("mallory", "correct horse")
    assert str(wrong.value) == str(unknown.value)  # the message does not tell names apart
    assert wrong.value.status_code == 401


def test_bad_accounts_are_refused_and_nothing_is_stored(accounts: Accounts) -> None:
    accounts.add("alice", "correct horse")
    with pytest.raises(ConflictError, match="'ALICE' exists"):
        accounts.add("ALICE", "another horse")
    with pytest.raises(LabellakeError, match="at least 8"):
        accounts.add("bob", "short")
    with pytest.raises(LabellakeError, match="role 'root'"):
        accounts.add("bob", "long enough", "root")
    with pytest.raises(LabellakeError, match="account name"):
        accounts.add("../bob", "long enough")
    assert [a["name"] for a in accounts.list()] == ["alice"]
    with pytest.raises(NotFoundError, match="no account named 'bob'"):
        accounts.remove("bob")


def test_repeated_failures_lock_the_account_until_its_password_is_reset(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_module, "LOCK_AFTER", 3)
    accounts.add("alice", "correct horse")
    for _ in range(3):
        with pytest.raises(SignInError, match="wrong"):
            accounts.sign_in("alice", "guess")
    with pytest.raises(SignInError, match="too many failed sign-ins"):
        accounts.sign_in("alice", "correct horse")  # even the right password waits
    accounts.set_password("alice", "new horse battery")
    assert accounts.sign_in("alice", "new horse battery")["name"] == "alice"
    accounts.remove("alice")
    assert accounts.list() == []
