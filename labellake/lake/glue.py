"""The lake's tables in the Glue Data Catalog, so Athena (or Spark, or Trino) reads them.

Each catalog table becomes a Glue table over its S3 folder with its columns,
types and descriptions; every partition a write creates is registered with it
(awswrangler's catalog API). Files are still written by the lake's writer:
one file per unit, atomically, so re-running a step replaces its rows.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from labellake.errors import LabellakeError
from labellake.lake.catalog import Table


def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena spelling of a catalog column's Arrow type."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_map(arrow_type):
        return f"map<{glue_type(arrow_type.key_type)},{glue_type(arrow_type.item_type)}>"
    if pa.types.is_list(arrow_type):
        return f"array<{glue_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        return "struct<" + ",".join(f"{f.name}:{glue_type(f.type)}" for f in arrow_type) + ">"
    return {
        pa.string(): "string",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float64(): "double",
        pa.bool_(): "boolean",
    }[arrow_type]


def wrangler(endpoint_url: str | None) -> Any:
    """awswrangler, pointed at ``endpoint_url`` (a moto server or LocalStack) for S3, Glue
    and Athena when one is set; its configuration is per process."""
    import awswrangler as wr

    if endpoint_url:
        wr.config.s3_endpoint_url = endpoint_url
        wr.config.glue_endpoint_url = endpoint_url
        wr.config.athena_endpoint_url = endpoint_url
    return wr


class GlueCatalog:
    """Registers lake tables and their partitions in one Glue database."""

    def __init__(
        self,
        database: str,
        lake_uri: str,
        region: str,
        endpoint_url: str | None = None,
    ) -> None:
        if not lake_uri.startswith("s3://"):
            raise LabellakeError(
                f"the Glue catalog describes a lake on S3, and lake_uri is {lake_uri}"
            )
        import boto3

        self.database = database
        self.root = lake_uri.rstrip("/")
        self.session = boto3.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self._known: set[str] = set()

    def _wr(self) -> Any:
        return wrangler(self.endpoint_url)

    def ensure_database(self) -> None:
        wr = self._wr()
        if (
            self.database
            not in wr.catalog.databases(boto3_session=self.session)["Database"].tolist()
        ):
            wr.catalog.create_database(
                self.database,
                description="labellake: annotations, workers, documents and benchmarks",
                exist_ok=True,
                boto3_session=self.session,
            )

    def register(self, table: Table, written: list[str] | None = None) -> None:
        """Create or update the Glue table; add the partitions of the ``written`` keys."""
        wr = self._wr()
        if table.name not in self._known:
            self.ensure_database()
            wr.catalog.create_parquet_table(
                database=self.database,
                table=table.name,
                path=f"{self.root}/{table.name}/",
                columns_types={
                    c.name: glue_type(c.type)
                    for c in table.columns
                    if c.name not in table.partition_by
                },
                partitions_types={name: "string" for name in table.partition_by} or None,
                compression="zstd",
                description=table.description,
                columns_comments={c.name: c.description for c in table.columns},
                mode="overwrite",
                boto3_session=self.session,
            )
            self._known.add(table.name)
        if not table.partition_by or not written:
            return
        partitions: dict[str, list[str]] = {}
        for key in written:
            folders = key.split("/")[1:-1]  # <table>/<col>=<value>/.../<unit>.parquet
            values = [folder.partition("=")[2] for folder in folders]
            partitions[f"{self.root}/{'/'.join([table.name, *folders])}/"] = values
        wr.catalog.add_parquet_partitions(
            database=self.database,
            table=table.name,
            partitions_values=partitions,
            compression="zstd",
            boto3_session=self.session,
        )

    def drop_partitions(self, table: Table, removed: list[str]) -> None:
        """Forget partitions whose folder no longer holds any file of the table."""
        if not table.partition_by or not removed:
            return
        wr = self._wr()
        values = {
            f"{self.root}/{key.rsplit('/', 1)[0]}/": [
                folder.partition("=")[2] for folder in key.split("/")[1:-1]
            ]
            for key in removed
        }
        wr.catalog.delete_partitions(
            table=table.name,
            database=self.database,
            partitions_values=list(values.values()),
            boto3_session=self.session,
        )

    def tables(self) -> list[str]:
        wr = self._wr()
        frame = wr.catalog.tables(database=self.database, boto3_session=self.session)
        return sorted(frame["Table"].tolist())
