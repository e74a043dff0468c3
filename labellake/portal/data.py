"""The portal's doors to the lake and the engine: cached, and built from the settings.

Pages call these with plain values; the expensive objects live in
`st.cache_resource`, query results in `st.cache_data` (aggregated in DuckDB, so
only small frames reach pandas).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from labellake import sql
from labellake.errors import LabellakeError
from labellake.settings import Settings, load_settings
from labellake.workflows import compose
from labellake.workflows.home import Home

REFRESH_S = 10


def _key() -> str:
    """The resolved settings, as the cache key: another home is another cache entry."""
    return load_settings().model_dump_json()


@st.cache_resource
def _home(key: str) -> Home:
    return compose.open_home(Settings.model_validate_json(key), serving=True)


@st.cache_resource
def _engine(key: str):  # type: ignore[no-untyped-def]
    return compose.build_engine(_home(key))


def home() -> Home:
    return _home(_key())


def engine():  # type: ignore[no-untyped-def]
    return _engine(_key())


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _query(key: str, name: str, params: tuple[Any, ...]) -> pd.DataFrame:
    return _home(key).lake.query(sql.load(name), list(params) or None).to_pandas()


def query(name: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
    """A named query from sql/ (its result is aggregated; never raw rows)."""
    return _query(_key(), name, params)


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _user_query(key: str, text: str) -> pd.DataFrame:
    return _home(key).lake.query_user(text).to_pandas()


def user_query(text: str) -> pd.DataFrame:
    return _user_query(_key(), text)


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _tables(key: str) -> list[dict[str, Any]]:
    return _home(key).lake.describe()


def tables() -> list[dict[str, Any]]:
    """Every table with its row count and described columns (the SQL page's schema list)."""
    return _tables(_key())


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _is_empty(key: str) -> bool:
    lake = _home(key).lake
    return not lake.files("batches") and not lake.files("annotations")


def is_empty() -> bool:
    return _is_empty(_key())


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _inputs(key: str) -> tuple[list[str], list[str]]:
    objects = _engine(key).objects
    keys = objects.list()
    manifests = [
        objects.uri(k)
        for k in keys
        if k.endswith(".manifest") and "/batch_manifests/" not in f"/{k}"
    ]
    clips = [objects.uri(k) for k in keys if k.endswith("_seq.json")]
    return manifests, clips


def inputs() -> tuple[list[str], list[str]]:
    """Input manifests and video clips (sequence files) in the object store, for the form."""
    return _inputs(_key())


def run(action, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    """Call ``action``; a user error is shown with st.error and gives None."""
    try:
        return action(*args, **kwargs)
    except LabellakeError as exc:
        st.error(str(exc))
        return None


def attempt(action, *args: Any, **kwargs: Any) -> bool:  # type: ignore[no-untyped-def]
    """Call ``action`` for its effect; a user error is shown with st.error and gives False."""
    try:
        action(*args, **kwargs)
    except LabellakeError as exc:
        st.error(str(exc))
        return False
    return True


EMPTY_HINT = (
    "The lake is empty. Run `labellake demo` (or `make run`) to generate sample clips and "
    "label them with the simulated workforce, or `labellake import groundtruth PREFIX` to "
    "bring existing Ground Truth jobs."
)


def workforce():  # type: ignore[no-untyped-def]
    """The local workforce: work teams and worker accounts in the state store."""
    return compose.workforce(home())


@st.cache_resource
def _accounts(key: str):  # type: ignore[no-untyped-def]
    return compose.accounts(_home(key))


def accounts():  # type: ignore[no-untyped-def]
    """Portal accounts (sign-in, roles, tokens) in the state db."""
    return _accounts(_key())


def local_teams() -> list[dict[str, Any]]:
    """The local workforce's teams and workers (GET /workforce/show's shape)."""
    return workforce().teams()


def worker_names() -> dict[str, str]:
    """Worker id -> name: the default backend's workforce, Label Studio's users when a
    server is set (one that does not answer just leaves its ids unnamed), and the local
    workforce."""
    teams = local_teams()
    backends = [engine().backend]
    if home().settings.labelstudio_url and engine().backend.name != "labelstudio":
        backends.append(engine().backends["labelstudio"])
    for backend in backends:
        try:
            teams = backend.workforce() + teams
        except LabellakeError:
            continue
    return {w["workerId"]: w["name"] for team in teams for w in team["workers"]}


@st.cache_resource
def _models(key: str):  # type: ignore[no-untyped-def]
    return compose.model_workflow(_home(key))


def models():  # type: ignore[no-untyped-def]
    """The model workflow: runs start in this process's background thread."""
    return _models(_key())


@st.cache_data(ttl=REFRESH_S, show_spinner=False)
def _frames(key: str, source_refs: tuple[str, ...]) -> list[int]:
    from labellake.workflows.models.effort import clip_frames

    engine = _engine(key)
    return clip_frames(list(source_refs), engine.read)


def frames(source_refs: list[str]) -> list[int]:
    """Frames per data object (sequence files read once, then cached)."""
    return _frames(_key(), tuple(source_refs))
