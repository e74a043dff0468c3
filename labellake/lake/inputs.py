"""Reading the files a request names: where they may be, and how much of them.

A URI in a request (a manifest, a label category config, a CSV, the sequence
files and frames a manifest points to) may name only:

- the object store (the raw zone),
- ``s3://`` (on AWS the bucket policy is the fence),
- a folder or prefix of the ``allowed_input_roots`` setting,
- any local file, for the CLI only (``local_files``): the user names files on
  their own machine there.

Never the home's state files (state.db and its journal, secrets): opening and
closing state.db from a second handle in the same process releases that
process's SQLite locks. Local paths are resolved (``..``, symbolic links)
before they are compared, only regular files are read, and a read stops at a
size cap. Errors name the field and the URI the request gave, never the
content of the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError, NotFoundError, TooLargeError
from labellake.lake.store import locate


def _size(limit: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= scale:
            return f"{limit / scale:g} {unit}"
    return f"{limit} bytes"


@dataclass(frozen=True)
class InputPolicy:
    """Where request fields may point, and the largest file they may name."""

    roots: tuple[str, ...] = ()  # local folders (resolved)
    denied: tuple[str, ...] = ()  # local folders and files never read (resolved)
    local_files: bool = False
    max_bytes: int = 1 << 30  # manifests, sequence files, CSVs
    max_config_bytes: int = 64 << 20  # label category configs
    aws: AwsTarget | None = None

    @classmethod
    def build(
        cls,
        roots: Iterable[str],
        denied: Iterable[str | Path] = (),
        *,
        local_files: bool = False,
        max_bytes: int = 1 << 30,
        max_config_bytes: int = 64 << 20,
        aws: AwsTarget | None = None,
    ) -> InputPolicy:
        """A policy over ``roots`` (local paths, file:// or s3:// URIs)."""
        # s3:// is always allowed (bucket policies fence it), so only local roots count.
        local = [str(root) for root in roots if not str(root).startswith("s3://")]
        return cls(
            roots=tuple(os.path.realpath(_local_path(root)) for root in local),
            denied=tuple(os.path.realpath(_local_path(str(path))) for path in denied),
            local_files=local_files,
            max_bytes=max_bytes,
            max_config_bytes=max_config_bytes,
            aws=aws,
        )

    def check(self, uri: object, field: str) -> str:
        """The URI to read (a local one resolved); LabellakeError naming ``field`` if the
        request may not read it."""
        if not isinstance(uri, str) or not uri.strip():
            raise LabellakeError(
                f"{field}: expected a URI (s3://... or a path in the object store)"
            )
        if "\x00" in uri or any(ord(ch) < 32 for ch in uri):
            raise LabellakeError(f"{field}: the URI holds control characters; remove them")
        scheme = urlparse(uri).scheme
        if scheme == "s3":
            return uri
        if scheme not in ("", "file") and len(scheme) > 1:
            raise LabellakeError(
                f"{field}: unsupported URI scheme '{scheme}'; use s3:// or a path in the "
                "object store"
            )
        path = _local_path(uri)
        if not self.local_files and not os.path.isabs(path):
            raise LabellakeError(
                f"{field}: '{uri}' is a relative path; name the object by its full URI "
                "(s3://... or a path in the object store)"
            )
        real = os.path.realpath(path)
        if any(_within(real, denied) for denied in self.denied):
            raise LabellakeError(
                f"{field}: '{uri}' is one of labellake's own state files, which a request "
                "may never read; name a file in the object store"
            )
        if not self.local_files and not any(_within(real, root) for root in self.roots):
            raise LabellakeError(
                f"{field}: '{uri}' is outside the object store; requests may read only the "
                "object store, s3:// or a folder listed in allowed_input_roots"
            )
        return real

    def read(self, uri: object, field: str, limit: int | None = None) -> bytes:
        """The bytes of a file a request names, at most ``limit`` (default max_bytes)."""
        location = self.check(uri, field)
        limit = limit or self.max_bytes
        if not location.startswith("s3://"):
            return _read_local(location, str(uri), field, limit)
        store, key = locate(location, **store_options(self.aws))
        path = store.path(key)
        try:
            info = store.filesystem.get_file_info(path)
            if info.type == pafs.FileType.NotFound:
                raise NotFoundError(f"{field}: {uri} does not exist; check the URI")
            if info.type != pafs.FileType.File:
                raise LabellakeError(f"{field}: {uri} is a folder, not a file; name one file")
            if info.size is not None and info.size > limit:
                raise _too_large(field, uri, limit)
            with store.filesystem.open_input_stream(path) as stream:
                data = stream.read(limit + 1)
        except OSError as exc:
            raise LabellakeError(f"{field}: cannot read {uri} ({type(exc).__name__})") from exc
        if len(data) > limit:
            raise _too_large(field, uri, limit)
        return data

    def read_text(self, uri: object, field: str, limit: int | None = None) -> str:
        """The UTF-8 text (a byte-order mark is dropped) of a file a request names."""
        return decode(self.read(uri, field, limit), field, str(uri))


def decode(data: bytes, field: str, name: str) -> str:
    """UTF-8 text; the error names the byte offset, never the bytes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabellakeError(
            f"{field}: {name} is not UTF-8 text (byte {exc.start} cannot be decoded); "
            "save it as UTF-8"
        ) from exc


def _local_path(text: str) -> str:
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return parsed.path
    return os.path.expanduser(text)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _too_large(field: str, uri: object, limit: int) -> TooLargeError:
    return TooLargeError(
        f"{field}: {uri} is larger than {_size(limit)}; split it, or raise max_input_bytes "
        "(max_config_bytes for label configs)"
    )


def _read_local(path: str, uri: str, field: str, limit: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise NotFoundError(f"{field}: {uri} does not exist; check the path") from None
    except IsADirectoryError:
        raise LabellakeError(f"{field}: {uri} is a folder, not a file; name one file") from None
    except OSError as exc:
        raise LabellakeError(f"{field}: cannot read {uri} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise LabellakeError(f"{field}: {uri} is a folder, not a file; name one file")
        if not stat.S_ISREG(info.st_mode):
            raise LabellakeError(f"{field}: {uri} is not a regular file; name a file")
        if info.st_size > limit:
            raise _too_large(field, uri, limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise LabellakeError(f"{field}: cannot read {uri} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise _too_large(field, uri, limit)
    return b"".join(chunks)
