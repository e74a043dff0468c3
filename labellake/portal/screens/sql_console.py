"""SQL: read-only queries over the lake, with the tables and their columns beside the editor."""

from __future__ import annotations

import io

import streamlit as st

from labellake import sql
from labellake.portal import data

EXAMPLES = {
    "Batches by status": sql.load("batch_status_counts"),
    "Worker performance": "SELECT * FROM worker_performance ORDER BY job_name, worker_id",
    "QA findings per job": "SELECT * FROM qa_findings_per_job",
    "Negative audit outcomes": "SELECT * FROM audit_outcomes WHERE fail_rate > 0",
}

st.title("SQL")
editor, schema = st.columns([3, 1])
with schema:
    st.subheader("Tables")
    for table in data.run(data.tables) or []:
        with st.expander(f"{table['name']} ({table['rows']} rows)"):
            st.caption(table["description"])
            for column in table["columns"]:
                st.markdown(f"- `{column['name']}` {column['type']}: {column['description']}")
    st.caption("Views: " + ", ".join(sorted(data.home().lake.views)))
with editor:
    example = st.selectbox("Example queries", ["(none)", *EXAMPLES])
    default = EXAMPLES.get(
        example, "SELECT job_name, count(*) AS shapes FROM annotations GROUP BY job_name"
    )
    text = st.text_area(
        "Query (read-only, DuckDB dialect)", value=default, height=180, key=f"query-{example}"
    )
    if st.button("Run", type="primary"):
        result = data.run(data.user_query, text)
        if result is not None:
            st.caption(f"{len(result)} rows")
            st.dataframe(result, width="stretch", hide_index=True)
            st.download_button(
                "Download CSV", result.to_csv(index=False).encode(), "result.csv", "text/csv"
            )
            parquet = io.BytesIO()
            result.to_parquet(parquet, index=False)
            st.download_button(
                "Download Parquet",
                parquet.getvalue(),
                "result.parquet",
                "application/vnd.apache.parquet",
            )
