from __future__ import annotations

from pathlib import Path

import pytest

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import ObjectStore


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-uri"])
def test_local_round_trip(tmp_path: Path, as_uri: bool) -> None:
    root = tmp_path / "objects"
    store = ObjectStore.from_uri(f"file://{root}" if as_uri else str(root))
    uri = store.write_text("batch/a/manifest.json", '{"source-ref": "x"}')
    assert uri == str(root / "batch/a/manifest.json")
    assert store.read_text("batch/a/manifest.json") == '{"source-ref": "x"}'
    assert store.exists("batch/a/manifest.json")
    assert store.list() == ["batch/a/manifest.json"]
    assert store.list("batch", suffix=".json") == ["batch/a/manifest.json"]
    assert store.delete("batch/a/manifest.json") is True
    assert store.delete("batch/a/manifest.json") is False
    assert store.list() == []


def test_missing_object_is_named(tmp_path: Path) -> None:
    store = ObjectStore.from_uri(tmp_path)
    with pytest.raises(NotFoundError, match="nothing.json does not exist"):
        store.read_bytes("nothing.json")


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", "a/../../b"])
def test_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    store = ObjectStore.from_uri(tmp_path / "objects")
    with pytest.raises(LabellakeError, match="leaves the store"):
        store.write_text(key, "x")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(LabellakeError, match="unsupported URI scheme 'gs'"):
        ObjectStore.from_uri("gs://bucket/prefix")


def test_failed_write_leaves_nothing_and_keeps_the_old_version(tmp_path: Path) -> None:
    store = ObjectStore.from_uri(tmp_path)
    store.write_text("a.json", "old")
    with pytest.raises(RuntimeError), store.open_output("a.json") as stream:
        stream.write(b"half of the new")
        raise RuntimeError("crash mid-write")
    assert store.read_text("a.json") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_sweep_removes_only_old_temporary_files(tmp_path: Path) -> None:
    store = ObjectStore.from_uri(tmp_path)
    (tmp_path / ".a.json.123.tmp").write_text("left by a crash")
    assert store.list() == []
    assert store.sweep_temporary(older_than_s=3600) == 0
    assert store.sweep_temporary(older_than_s=-1) == 1
    assert list(tmp_path.iterdir()) == []


def test_uncreatable_root_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = ObjectStore.from_uri(blocker / "objects")
    with pytest.raises(LabellakeError, match="cannot create folder .*--home"):
        store.ensure_root()


def test_s3_round_trip_on_moto(moto_endpoint: str, s3_bucket: str) -> None:
    store = ObjectStore.from_uri(f"s3://{s3_bucket}/raw", endpoint_url=moto_endpoint)
    assert store.write_text("clips/seq.json", "{}") == f"s3://{s3_bucket}/raw/clips/seq.json"
    assert store.read_text("clips/seq.json") == "{}"
    assert store.exists("clips/seq.json")
    assert not store.exists("clips/other.json")
    assert store.list("clips") == ["clips/seq.json"]
    with pytest.raises(NotFoundError):
        store.read_text("clips/other.json")
    assert store.delete_prefix("clips") == 1
    assert store.list() == []


def test_s3_uri_needs_a_bucket() -> None:
    with pytest.raises(LabellakeError, match="no bucket"):
        ObjectStore.from_uri("s3:///prefix")
