"""Portal sign-in: with LABELLAKE_PORTAL_AUTH=1 every visitor signs in with an account.

The signed-in account lives in the Streamlit session (server side); actions the
portal takes are recorded with its name.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from labellake.errors import LabellakeError
from labellake.portal import data
from labellake.settings import load_settings
from labellake.workflows.people.accounts import Accounts

_SESSION_KEY = "labellake-account"


def enabled() -> bool:
    return load_settings().portal_auth


def account() -> dict[str, Any] | None:
    """The signed-in account, or None (always None with sign-in off)."""
    return st.session_state.get(_SESSION_KEY) if enabled() else None


def actor() -> str:
    """Who the portal's actions are recorded as."""
    signed_in = account()
    return f"portal:{signed_in['name']}" if signed_in else "portal"


def is_worker() -> bool:
    """A worker account is signed in: it sees its tasks and nothing else."""
    signed_in = account()
    return signed_in is not None and signed_in["role"] == "worker"


def may_administer() -> bool:
    """Deleting batches: anyone with sign-in off, admins with it on."""
    signed_in = account()
    return not enabled() or (signed_in is not None and signed_in["role"] == "admin")


def _accounts() -> Accounts:
    return data.accounts()


def _sign_out() -> None:
    st.session_state.pop(_SESSION_KEY, None)


def gate() -> bool:
    """Show the sign-in form when sign-in is on and nobody is signed in; True when the
    visitor may see the pages."""
    if not enabled():
        return True
    signed_in = st.session_state.get(_SESSION_KEY)
    if signed_in:
        with st.sidebar:
            st.caption(f"Signed in as **{signed_in['name']}** ({signed_in['role']})")
            st.button("Sign out", on_click=_sign_out)
        return True
    st.title("Sign in to labellake")
    if not _accounts().list():
        st.error(
            "Sign-in is on (LABELLAKE_PORTAL_AUTH=1) but there are no accounts yet. Create "
            "one with `labellake account add NAME --role admin`, then reload this page."
        )
        return False
    with st.expander("First time here? Set your password with your invite"), st.form("invite"):
        st.text_input("Account", key="invite-name")
        st.text_input("Invite token", type="password", key="invite-token")
        st.text_input("New password", type="password", key="invite-password")
        st.form_submit_button("Set password and sign in", on_click=_accept_invite)
    with st.form("sign-in"):
        st.text_input("Account", key="sign-in-name")
        st.text_input("Password", type="password", key="sign-in-password")
        st.form_submit_button("Sign in", type="primary", on_click=_sign_in)
    failure = st.session_state.pop("sign-in-failure", None)
    if failure:
        st.error(failure)
    return False


def _accept_invite() -> None:
    name = str(st.session_state.get("invite-name") or "").strip()
    token = str(st.session_state.get("invite-token") or "").strip()
    password = str(st.session_state.get("invite-password") or "")
    st.session_state["invite-token"] = st.session_state["invite-password"] = ""
    try:
        _accounts().accept_invite(name, token, password)
        st.session_state[_SESSION_KEY] = _accounts().sign_in(name, password)
    except LabellakeError as exc:
        st.session_state["sign-in-failure"] = str(exc)


def _sign_in() -> None:
    """The form's callback: runs before the script, so the pages show in the same run."""
    name = str(st.session_state.get("sign-in-name") or "").strip()
    password = str(st.session_state.get("sign-in-password") or "")
    st.session_state["sign-in-password"] = ""  # the password does not stay in the session
    try:
        st.session_state[_SESSION_KEY] = _accounts().sign_in(name, password)
    except LabellakeError as exc:
        st.session_state["sign-in-failure"] = str(exc)
