"""The object store: one interface over local folders, file:// and s3:// URIs.

Everything goes through ``pyarrow.fs``, so the raw zone and the curated zone
behave the same on a laptop and on S3. Keys are POSIX paths relative to the
store's root. Writes are atomic: locally a temporary file is written, synced
and renamed into place; on S3 a PUT is atomic by itself.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from labellake.errors import LabellakeError, NotFoundError

TMP_SUFFIX = ".tmp"


def s3_filesystem(region: str | None = None, endpoint_url: str | None = None) -> pafs.S3FileSystem:
    """An S3 filesystem; ``endpoint_url`` points it at a moto server or LocalStack."""
    endpoint_url = (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    options: dict[str, object] = {"region": region or os.environ.get("AWS_DEFAULT_REGION")}
    if endpoint_url:
        parsed = urlparse(endpoint_url if "://" in endpoint_url else f"http://{endpoint_url}")
        options["endpoint_override"] = parsed.netloc
        options["scheme"] = parsed.scheme or "https"
        # S3-compatible servers usually serve every bucket under one host name.
        options["force_virtual_addressing"] = False
    # Fail fast: an unreachable endpoint or a missing key is an error in seconds, not a hang.
    options["connect_timeout"] = 3.0
    options["request_timeout"] = 10.0
    options["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=2)
    return pafs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})


class ObjectStore:
    """Bytes and streams under one root URI."""

    def __init__(self, filesystem: pafs.FileSystem, root: str, scheme: str = "") -> None:
        self.filesystem = filesystem
        self.root = root.rstrip("/")
        self.scheme = scheme
        self._bucket_seen = False

    @classmethod
    def from_uri(
        cls, uri: str | Path, *, region: str | None = None, endpoint_url: str | None = None
    ) -> ObjectStore:
        """A store rooted at a local path, a ``file://`` URI or an ``s3://bucket/prefix`` URI."""
        text = str(uri)
        parsed = urlparse(text)
        if parsed.scheme == "s3":
            if not parsed.netloc:
                raise LabellakeError(f"'{text}' has no bucket; write s3://BUCKET/PREFIX")
            root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
            return cls(s3_filesystem(region, endpoint_url), root, scheme="s3")
        if parsed.scheme == "file":
            text = parsed.path
        elif parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive
            raise LabellakeError(
                f"'{text}': unsupported URI scheme '{parsed.scheme}'; "
                "use a local path, file:// or s3://"
            )
        return cls(pafs.LocalFileSystem(), str(Path(text).expanduser().absolute()))

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    @property
    def root_uri(self) -> str:
        return f"{self.scheme}://{self.root}" if self.scheme else self.root

    def path(self, key: str = "") -> str:
        """The filesystem path of ``key`` (refuses keys that climb out of the root)."""
        if not key:
            return self.root
        normalized = posixpath.normpath(key)
        if key.startswith("/") or normalized == ".." or normalized.startswith("../"):
            raise LabellakeError(f"object key '{key}' leaves the store; use a relative key")
        return f"{self.root}/{normalized}"

    def uri(self, key: str = "") -> str:
        path = self.path(key)
        return f"{self.scheme}://{path}" if self.scheme else path

    def ensure_root(self) -> None:
        """Create the root folder if needed (on S3: check the bucket, once); a clear error
        if that is impossible."""
        if not self.is_local:
            self._check_bucket()
            return
        try:
            self.filesystem.create_dir(self.root, recursive=True)
        except OSError as exc:
            raise LabellakeError(
                f"cannot create folder {self.root}: {exc.strerror or exc}; "
                "choose a writable location with --home or LABELLAKE_HOME"
            ) from exc
        if not os.access(self.root, os.W_OK):
            raise LabellakeError(
                f"folder {self.root} is not writable; choose a writable location "
                "with --home or LABELLAKE_HOME"
            )

    def _check_bucket(self) -> None:
        if self._bucket_seen:
            return
        bucket = self.root.split("/", 1)[0]
        try:
            info = self.filesystem.get_file_info(bucket)
        except OSError as exc:
            raise LabellakeError(
                f"cannot reach bucket {bucket} ({exc}); check the AWS credentials, aws_region "
                "and aws_endpoint_url"
            ) from exc
        if info.type == pafs.FileType.NotFound:
            raise LabellakeError(
                f"bucket {bucket} (of {self.uri()}) does not exist; create it with `labellake "
                "--profile aws aws bootstrap`, or set aws_bucket (or objects_uri and lake_uri) "
                "to a bucket that does"
            )
        self._bucket_seen = True

    def exists(self, key: str) -> bool:
        return self.filesystem.get_file_info(self.path(key)).type == pafs.FileType.File

    def read_bytes(self, key: str) -> bytes:
        with self.open_input(key) as stream:
            return stream.read()

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def open_input(self, key: str) -> pa.NativeFile:
        try:
            return self.filesystem.open_input_stream(self.path(key))
        except FileNotFoundError as exc:
            raise NotFoundError(f"object {self.uri(key)} does not exist") from exc

    def write_bytes(self, key: str, data: bytes) -> str:
        with self.open_output(key) as stream:
            stream.write(data)
        return self.uri(key)

    def write_text(self, key: str, text: str) -> str:
        return self.write_bytes(key, text.encode("utf-8"))

    @contextlib.contextmanager
    def open_output(self, key: str) -> Iterator[pa.NativeFile]:
        """A stream whose content appears at ``key`` only if the block finishes."""
        final = self.path(key)
        parent = posixpath.dirname(final)
        if not self.is_local:
            # An S3 object becomes visible only when its upload completes.
            with self.filesystem.open_output_stream(final) as stream:
                yield stream
            return
        tmp = f"{parent}/.{posixpath.basename(final)}.{uuid.uuid4().hex}{TMP_SUFFIX}"
        try:
            with self._open_temporary(parent, tmp) as stream:
                yield stream
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _open_temporary(self, parent: str, tmp: str) -> pa.NativeFile:
        """The temporary file's stream, its folder created first (again, if a delete pruned
        the folder in between: once the file is in it, the folder is not empty)."""
        for attempt in range(3):
            self.filesystem.create_dir(parent, recursive=True)
            try:
                return self.filesystem.open_output_stream(tmp)
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def list(self, prefix: str = "", suffix: str = "") -> list[str]:
        """Keys under ``prefix`` (recursive, sorted), skipping hidden and temporary files."""
        base = self.path(prefix)
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except NotADirectoryError:
            return []
        keys = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            key = info.path[len(self.root) + 1 :]
            if any(part.startswith(".") for part in key.split("/")):
                continue
            if key.endswith(suffix):
                keys.append(key)
        return sorted(keys)

    def signature(self, prefix: str, suffix: str = "") -> tuple[tuple[str, int, int], ...]:
        """(key, size, mtime in ns) of every object under ``prefix``: changes when any does."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except NotADirectoryError:
            return ()
        found = []
        for info in infos:
            key = info.path[len(self.root) + 1 :]
            if (
                info.type == pafs.FileType.File
                and key.endswith(suffix)
                and not any(part.startswith(".") for part in key.split("/"))
            ):
                found.append((key, info.size or 0, info.mtime_ns or 0))
        return tuple(sorted(found))

    def delete(self, key: str) -> bool:
        """Delete one object; False if it was not there."""
        try:
            self.filesystem.delete_file(self.path(key))
        except FileNotFoundError:
            return False
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``, then the folders left empty; returns how
        many objects went."""
        keys = self.list(prefix)
        for key in keys:
            self.delete(key)
        for key in keys:
            self.prune(key)
        return len(keys)

    def prune(self, key: str) -> int:
        """Remove the folders above ``key`` that are empty, up to the root (which stays).

        Only local stores have folders; on S3 a prefix is gone with its last object.
        Returns how many folders went."""
        if not self.is_local:
            return 0
        removed = 0
        folder = posixpath.dirname(self.path(key))
        while folder.startswith(f"{self.root}/"):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                pass  # pruned already, by another key below it
            except OSError:
                break  # not empty: something else lives here
            else:
                removed += 1
            folder = posixpath.dirname(folder)
        return removed

    def sweep_temporary(self, prefix: str = "", older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by a crashed local write.

        Only files older than ``older_than_s`` go, so a write in progress in
        another process keeps its temporary file.
        """
        if not self.is_local:
            return 0
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        cutoff = time.time() - older_than_s
        removed = 0
        for info in self.filesystem.get_file_info(selector):
            if (
                info.type == pafs.FileType.File
                and info.base_name.endswith(TMP_SUFFIX)
                and info.mtime.timestamp() < cutoff
            ):
                self.filesystem.delete_file(info.path)
                removed += 1
        return removed


def locate(uri: str, **options: str | None) -> tuple[ObjectStore, str]:
    """The store holding ``uri`` (rooted at its folder) and the object's key in it."""
    text = str(uri)
    if not text or text.endswith("/"):
        raise LabellakeError(f"'{text}' does not name an object")
    parent, _, name = text.rstrip("/").rpartition("/")
    if not parent or parent.endswith(":/") or parent.endswith(":"):
        raise LabellakeError(f"'{text}' does not name an object in a folder or bucket")
    return ObjectStore.from_uri(parent, **options), name  # type: ignore[arg-type]


def read_uri(uri: str, **options: str | None) -> bytes:
    """Bytes of one object named by a path, file:// or s3:// URI (NotFoundError naming it)."""
    store, key = locate(uri, **options)
    return store.read_bytes(key)
