"""Portal accounts: a name, a role and an argon2 password hash, in the state db.

The rule: this module owns the tables ``accounts`` and ``sign_in_failures`` (their
migrations are ``ACCOUNTS``); other modules reach them through ``Accounts``.

With LABELLAKE_PORTAL_AUTH=1 everyone signs in to the portal. Passwords are
never stored or logged, only their argon2id hashes; a name that keeps failing is
locked for a while, so a password cannot be guessed at the sign-in form's speed.

Each attempt is counted before its password is checked, in one write
transaction, so however many guesses arrive at once, at most LOCK_AFTER
passwords are checked before the name is locked. A name without an account is
counted, checked (against a stand-in hash) and locked the same way: no answer,
and no answer's timing, tells whether an account has that name. A name's
failures are forgotten LOCK_S seconds after the last one, or on a success.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.workflows.labeling.store import timestamp
from labellake.workflows.statedb import OnStateDb, Schema, StateDb, state_db

ROLES = ("worker", "analyst", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
LOCK_AFTER = 10  # failed sign-ins in a row
LOCK_S = 300.0
WRONG = "wrong account name or password"

_hasher = PasswordHasher()

# The accounts' tables in the state db; no other module reads or writes them.
ACCOUNTS = Schema(
    "accounts",
    (
        # 1: portal accounts (sign-in with LABELLAKE_PORTAL_AUTH=1).
        """
        CREATE TABLE accounts (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            last_sign_in_at TEXT
        );
        """,
        # 2: the one-time invite of a worker the workforce adds without a password.
        "ALTER TABLE accounts ADD COLUMN invite_hash TEXT;",
        # 3: failed sign-ins per name, whether or not an account has the name, so a name
        # without one is locked like a name with one (accounts.failed_attempts and
        # locked_until are no longer used; current locks carry over).
        """
        CREATE TABLE sign_in_failures (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            failed_attempts INTEGER NOT NULL,
            locked_until REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX sign_in_failures_expiry ON sign_in_failures(expires_at);
        INSERT INTO sign_in_failures (name, failed_attempts, locked_until, expires_at)
            SELECT name, 0, locked_until, locked_until FROM accounts
            WHERE locked_until > CAST(strftime('%s', 'now') AS REAL);
        """,
        # 4: a personal API token per account (its SHA-256; the token is shown once).
        """
        ALTER TABLE accounts ADD COLUMN api_token_hash TEXT;
        CREATE UNIQUE INDEX accounts_api_token ON accounts(api_token_hash);
        """,
    ),
    legacy=(2, 3, 7, 8),
)


class SignInError(LabellakeError):
    """Wrong name or password, or a locked account (the message does not say which exists)."""

    status_code = 401


def _check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise LabellakeError(
            f"account name '{name}': use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise LabellakeError(f"password: use at least {MIN_PASSWORD} characters")
    return password


class Accounts:
    """The accounts in one state db (or in the state db of a batch store)."""

    def __init__(self, state: StateDb | OnStateDb) -> None:
        self.db = state_db(state).subsystem(ACCOUNTS)

    def add(self, name: str, password: str, role: str = "analyst") -> dict[str, Any]:
        hashed = hash_password(password)
        with self.db.transaction() as con:
            self.insert(con, name, role, hashed)
        return self.get(name)

    def insert(
        self,
        con: Any,
        name: str,
        role: str,
        password_hash: str,
        invite_hash: str | None = None,
    ) -> None:
        """Add the account inside the caller's transaction (the workforce adds a worker
        and their team membership in one)."""
        _check_name(name)
        if role not in ROLES:
            raise LabellakeError(f"role '{role}': use one of {', '.join(ROLES)}")
        if con.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
            raise ConflictError(f"account '{name}' exists; pick another name")
        con.execute(
            "INSERT INTO accounts (name, role, password_hash, invite_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, password_hash, invite_hash, timestamp()),
        )

    def accept_invite(self, name: str, token: str, password: str) -> dict[str, Any]:
        """Set the first password of an invited account with its one-time token."""
        hashed = hash_password(password)
        with self.db.transaction() as con:
            row = con.execute("SELECT invite_hash FROM accounts WHERE name = ?", (name,)).fetchone()
            expected = row["invite_hash"] if row else None
            if not expected or not hmac.compare_digest(expected, token_hash(token)):
                raise SignInError("unknown or used invite; ask an admin for a new one")
            con.execute(
                "UPDATE accounts SET password_hash = ?, invite_hash = NULL WHERE name = ?",
                (hashed, name),
            )
        return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        with self.db.connect() as con:
            row = con.execute(
                "SELECT name, role, created_at, last_sign_in_at FROM accounts WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no account named '{name}'; see `labellake account list`")
        return dict(row)

    def list(self) -> list[dict[str, Any]]:
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT name, role, created_at, last_sign_in_at FROM accounts ORDER BY name"
            ).fetchall()
        return [dict(row) for row in rows]

    def invited(self) -> set[str]:
        """The names (lower-cased) of the accounts whose one-time invite is still open."""
        with self.db.connect() as con:
            rows = con.execute("SELECT name FROM accounts WHERE invite_hash IS NOT NULL")
            return {row["name"].lower() for row in rows}

    def issue_token(self, name: str) -> str:
        """A new personal API token for ``name`` (its old one stops working); shown once,
        only its SHA-256 is kept. Worker accounts label in the portal and get none."""
        account = self.get(name)
        if account["role"] == "worker":
            raise LabellakeError(
                f"account '{name}' is a worker's; API tokens are for analysts and admins"
            )
        token = f"llk_{secrets.token_urlsafe(32)}"
        with self.db.transaction() as con:
            con.execute(
                "UPDATE accounts SET api_token_hash = ? WHERE name = ?", (token_hash(token), name)
            )
        return token

    def by_token(self, token: str) -> dict[str, Any] | None:
        """The account (name, role) whose personal API token this is, or None."""
        if not token.startswith("llk_"):
            return None
        with self.db.connect() as con:
            row = con.execute(
                "SELECT name, role FROM accounts WHERE api_token_hash = ?", (token_hash(token),)
            ).fetchone()
        return dict(row) if row else None

    def remove(self, name: str) -> None:
        with self.db.transaction() as con:
            if not con.execute("DELETE FROM accounts WHERE name = ?", (name,)).rowcount:
                raise NotFoundError(f"no account named '{name}'; see `labellake account list`")

    def set_password(self, name: str, password: str) -> None:
        hashed = hash_password(password)
        with self.db.transaction() as con:
            changed = con.execute(
                "UPDATE accounts SET password_hash = ? WHERE name = ?", (hashed, name)
            ).rowcount
            con.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
        if not changed:
            raise NotFoundError(f"no account named '{name}'; see `labellake account list`")

    def sign_in(self, name: str, password: str) -> dict[str, Any]:
        """The account, when the password is right; SignInError otherwise (the same one for
        a wrong password and for a name without an account)."""
        row = self._count_attempt(name)
        try:
            if row is None:
                # Spend the same time as for a real account, so timing does not tell names.
                _hasher.verify(_dummy_hash(), password)
                raise VerificationError
            _hasher.verify(row["password_hash"], password)
        except (VerificationError, InvalidHashError):
            raise SignInError(WRONG) from None
        with self.db.transaction() as con:
            con.execute("DELETE FROM sign_in_failures WHERE name = ?", (row["name"],))
            signed_in = con.execute(
                "UPDATE accounts SET last_sign_in_at = ? WHERE name = ?",
                (timestamp(), row["name"]),
            ).rowcount
            if not signed_in:  # removed while its password was checked
                raise SignInError(WRONG)
            if _hasher.check_needs_rehash(row["password_hash"]):
                con.execute(
                    "UPDATE accounts SET password_hash = ? WHERE name = ?",
                    (_hasher.hash(password), row["name"]),
                )
        return self.get(row["name"])

    def _count_attempt(self, name: str) -> Any:
        """Count an attempt at ``name`` as failed until its password proves right, locking
        the name at the LOCK_AFTER-th; SignInError while it is locked. Returns the account
        (name, password_hash), or None when no account has that name."""
        now = time.time()
        locked_until = 0.0
        with self.db.transaction() as con:
            con.execute("DELETE FROM sign_in_failures WHERE expires_at <= ?", (now,))
            account = con.execute(
                "SELECT name, password_hash FROM accounts WHERE name = ?", (name,)
            ).fetchone()
            # A name that no account can have is never stored (it holds nothing to guess).
            if account is not None or NAME.fullmatch(name or ""):
                known = con.execute(
                    "SELECT failed_attempts, locked_until FROM sign_in_failures WHERE name = ?",
                    (name,),
                ).fetchone()
                if known is not None and known["locked_until"] > now:
                    locked_until = known["locked_until"]
                else:
                    failed = (known["failed_attempts"] if known is not None else 0) + 1
                    lock = now + LOCK_S if failed >= LOCK_AFTER else 0.0
                    con.execute(
                        "INSERT INTO sign_in_failures "
                        "(name, failed_attempts, locked_until, expires_at) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET "
                        "failed_attempts = excluded.failed_attempts, "
                        "locked_until = excluded.locked_until, expires_at = excluded.expires_at",
                        (name, failed, lock, max(lock, now + LOCK_S)),
                    )
        if locked_until:
            wait = int(locked_until - now) + 1
            raise SignInError(f"too many failed sign-ins; try again in {wait} s")
        return account


def hash_password(password: str) -> str:
    """The argon2id hash of an acceptable password (checked for length first)."""
    return _hasher.hash(_check_password(password))


def new_invite() -> tuple[str, str]:
    """A one-time invite token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """The stored form of a random token (an invite, an API token): they carry 192 bits
    or more, so a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not the password of any account")
