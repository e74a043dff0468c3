"""The portal's readiness signal: a hidden element each page draws after everything else,
numbered by the session's script runs. Browser tests (and anyone watching the portal)
wait on it instead of on a fixed time; a page that ends early calls `stop()` so the
signal is drawn there too."""

from __future__ import annotations

import html
from typing import NoReturn

import streamlit as st

_RUNS = "_labellake_runs"
_PAGE = "_labellake_page"


def begin(title: str) -> None:
    """Name the page this script run draws."""
    st.session_state[_PAGE] = title


def mark() -> None:
    """Draw the signal: the page has drawn all it draws in this run."""
    runs = int(st.session_state.get(_RUNS, 0)) + 1
    st.session_state[_RUNS] = runs
    title = html.escape(str(st.session_state.get(_PAGE, "")))
    st.html(f'<span id="labellake-ready" data-page="{title}" data-run="{runs}" hidden>ready</span>')


def stop() -> NoReturn:
    """st.stop(), with the signal drawn first."""
    mark()
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - it never returns
