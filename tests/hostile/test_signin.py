"""Sign-in under attack: parallel guesses cannot outrun the lock, and names stay secret.

An attempt is counted before its password is checked, in one write transaction, so at
most LOCK_AFTER passwords are ever checked before a name is locked, however many
guesses arrive at once. A name without an account answers exactly like a wrong
password: the same error, the same time spent, and the same lock after LOCK_AFTER tries.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labellake.workflows.people import accounts as accounts_module
from labellake.workflows.people.accounts import LOCK_AFTER, Accounts, SignInError
from labellake.workflows.statedb import StateDb

WRONG = "wrong account name or password"
LOCKED = "too many failed sign-ins"
GUESSES = 30


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    accounts = Accounts(StateDb(tmp_path / "state.db"))
    accounts.add("alice", "correct horse", "admin")
    return accounts


def guess_at_once(accounts: Accounts, name: str, passwords: list[str]) -> Counter[str]:
    """Send every password for ``name`` from its own thread at the same moment; count the
    answers (the first words of each SignInError, or 'signed in')."""
    start = threading.Barrier(len(passwords))

    def attempt(password: str) -> str:
        start.wait()
        try:
            accounts.sign_in(name, password)
        except SignInError as exc:
            return LOCKED if exc.message.startswith(LOCKED) else exc.message
        return "signed in"

    with ThreadPoolExecutor(len(passwords)) as pool:
        return Counter(pool.map(attempt, passwords))


@pytest.mark.parametrize("name", ["alice", "mallory"], ids=["account", "unknown name"])
def test_parallel_wrong_passwords_check_at_most_lock_after_passwords(
    accounts: Accounts, name: str
) -> None:
    answers = guess_at_once(accounts, name, [f"guess {n:02d}" for n in range(GUESSES)])
    # Every answer is one of the two, and only the attempts before the lock were checked.
    assert set(answers) <= {WRONG, LOCKED}, answers
    assert answers[WRONG] == LOCK_AFTER, answers
    assert answers[LOCKED] == GUESSES - LOCK_AFTER, answers
    with pytest.raises(SignInError, match=LOCKED):
        accounts.sign_in(name, "correct horse")  # even the right password waits


def test_a_right_password_among_parallel_guesses_signs_in_and_clears_the_count(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock_after = 4  # fewer argon2 checks: each takes a good part of a second on a laptop
    monkeypatch.setattr(accounts_module, "LOCK_AFTER", lock_after)
    answers = guess_at_once(accounts, "alice", ["correct horse", *["guess"] * (lock_after - 2)])
    assert answers == Counter({"signed in": 1, WRONG: lock_after - 2}), answers
    # A success starts the count again: LOCK_AFTER - 1 failures between two never lock.
    for _ in range(2):
        assert accounts.sign_in("alice", "correct horse")["name"] == "alice"
        for _ in range(lock_after - 1):
            with pytest.raises(SignInError, match=WRONG):
                accounts.sign_in("alice", "guess")
    assert accounts.sign_in("alice", "correct horse")["name"] == "alice"


def test_an_unknown_name_answers_exactly_like_a_wrong_password(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts_module, "LOCK_AFTER", 3)
    for name in ("alice", "mallory"):
        for _ in range(3):
            with pytest.raises(SignInError) as refused:
                accounts.sign_in(name, "guess")
            assert (type(refused.value), refused.value.message) == (SignInError, WRONG)
        with pytest.raises(SignInError) as locked:
            accounts.sign_in(name, "guess")
        assert type(locked.value) is SignInError
        assert locked.value.message.startswith(f"{LOCKED}; try again in ")
        assert locked.value.status_code == 401


def test_an_unknown_name_takes_as_long_as_a_wrong_password(accounts: Accounts) -> None:
    def seconds(name: str) -> float:
        started = time.perf_counter()
        with pytest.raises(SignInError, match=WRONG):
            accounts.sign_in(name, "guess")
        return time.perf_counter() - started

    seconds("nobody")  # warm up: the first unknown name makes the stand-in hash once
    # Interleaved, so a burst of load on a busy machine slows both kinds alike.
    wrong, unknown = [], []
    for n in range(5):
        wrong.append(seconds("alice"))
        unknown.append(seconds(f"nobody-{n}"))
    ratio = statistics.mean(unknown) / statistics.mean(wrong)
    assert 0.5 < ratio < 2.0, (wrong, unknown)
