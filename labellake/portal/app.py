"""The portal's entry point: every page, with its title and icon."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from labellake.portal import auth, ready

HERE = Path(__file__).parent

st.set_page_config(page_title="labellake", page_icon=":material/label:", layout="wide")

PAGES = [
    st.Page(
        HERE / "screens/overview.py", title="Overview", icon=":material/dashboard:", default=True
    ),
    st.Page(HERE / "screens/batches.py", title="Batches", icon=":material/account_tree:"),
    st.Page(HERE / "screens/annotations.py", title="Annotations", icon=":material/crop_free:"),
    st.Page(HERE / "screens/workforce.py", title="Workforce", icon=":material/groups:"),
    st.Page(HERE / "screens/quality.py", title="Quality", icon=":material/rule:"),
    st.Page(HERE / "screens/documents.py", title="Documents", icon=":material/description:"),
    st.Page(HERE / "screens/benchmarks.py", title="Benchmarks", icon=":material/speed:"),
    st.Page(HERE / "screens/models.py", title="Models", icon=":material/model_training:"),
    st.Page(HERE / "screens/sql_console.py", title="SQL", icon=":material/terminal:"),
]

TASKS = st.Page(HERE / "screens/tasks.py", title="Tasks", icon=":material/draw:")


# Streamlit runs this file as __main__; the user-SQL worker processes the portal spawns
# import it as __mp_main__ and must not run a page.
if __name__ == "__main__" and auth.gate():
    # Workers see only their tasks; the dashboards, batches and SQL stay closed to them.
    page = st.navigation([TASKS] if auth.is_worker() else [*PAGES, TASKS])
    ready.begin(page.title)
    page.run()
    ready.mark()
