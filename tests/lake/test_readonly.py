from __future__ import annotations

import pytest

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake.readonly import check_user_sql, referenced_tables

TABLES = ["annotations", "labels", "jobs"]


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) as n from annotations",
        "SELECT * FROM annotations;",
        "from annotations",
        "with a as (select * from annotations) select * from a join labels using (job_name)",
        "select 1 union all select 2",
        "select * from (select job_name from jobs) t",
        "describe annotations",
        "summarize labels",
        "select * from annotations, unnest([1, 2])",
    ],
)
def test_reads_are_allowed(sql: str) -> None:
    assert check_user_sql(sql, TABLES) == sql


@pytest.mark.parametrize(
    "sql,reason",
    [
        ("copy annotations to '/tmp/out.csv'", "COPY is refused"),
        ("copy (select 1) to '/tmp/out.parquet' (format parquet)", "COPY is refused"),
        ("attach '/tmp/other.duckdb' as other", "ATTACH is refused"),
        ("detach other", "DETACH is refused"),
        ("install httpfs", "INSTALL is refused"),
        ("load httpfs", "LOAD is refused"),
        ("set threads = 1", "SET is refused"),
        ("reset threads", "RESET is refused"),
        ("pragma enable_profiling", "PRAGMA is refused"),
        ("insert into jobs values ('x')", "INSERT is refused"),
        ("update jobs set status = 'x'", "UPDATE is refused"),
        ("delete from jobs", "DELETE is refused"),
        ("drop view jobs", "DROP is refused"),
        ("create table x as select 1", "CREATE is refused"),
        ("create secret (type s3)", "CREATE is refused"),
        ("alter view jobs rename to j", "ALTER is refused"),
        ("export database '/tmp/db'", "EXPORT is refused"),
        ("call pragma_version()", "CALL is refused"),
        ("use other", "USE is refused"),
        ("checkpoint", "CHECKPOINT is refused"),
        ("select * from read_csv('/etc/passwd')", r"read_csv\(\) is refused"),
        ("select * from read_parquet('/tmp/x.parquet')", r"read_parquet\(\) is refused"),
        ("select * from read_text('/etc/passwd')", r"read_text\(\) is refused"),
        ("select * from glob('/*')", r"glob\(\) is refused"),
        ("select * from query('select 1')", r"query\(\) is refused"),
        (
            "select * from jobs where job_name in (select * from read_json('/x.json'))",
            r"read_json\(\) is refused",
        ),
        ("select * from other.main.jobs", "plain name"),
        ("select 1; drop view jobs", "2 statements"),
        ("show tables", "only SELECT"),
        ("", "empty"),
    ],
)
def test_refused_statements_say_why(sql: str, reason: str) -> None:
    with pytest.raises(LabellakeError, match=reason) as caught:
        check_user_sql(sql, TABLES)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("sql", ["select * from '/etc/passwd'", "select * from nope"])
def test_unknown_tables_and_file_paths_are_not_found(sql: str) -> None:
    with pytest.raises(NotFoundError, match="unknown table .*known tables: annotations"):
        check_user_sql(sql, TABLES)


def test_malformed_query_gives_the_parser_message() -> None:
    with pytest.raises(LabellakeError, match='malformed query: syntax error at or near "x"'):
        check_user_sql("select * frm x", TABLES)


def test_referenced_tables_skips_ctes() -> None:
    sql = "with a as (select * from annotations) select * from a join labels using (job_name)"
    assert referenced_tables(sql) == {"annotations", "labels"}
