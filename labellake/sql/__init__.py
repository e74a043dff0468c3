"""Views and dashboard queries, one .sql file each.

Files are written in the common subset of DuckDB and Athena (Trino) SQL; a
test transpiles every one of them under both dialects.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable

from labellake.errors import NotFoundError


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.name.startswith(("_", ".")):
            found |= _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".sql"):
            found[f"{prefix}{entry.name[:-4]}"] = entry
    return found


def _files() -> dict[str, Traversable]:
    return _walk(resources.files(__name__))


def names() -> list[str]:
    """Every query name, e.g. 'batch_status_counts' or 'views/job_progress'."""
    return sorted(_files())


def load(name: str) -> str:
    """The text of query ``name``; a name without folder matches a file in any folder.

    >>> "FROM batches" in load("batch_status_counts")
    True
    """
    files = _files()
    if name in files:
        return files[name].read_text(encoding="utf-8")
    matches = [key for key in files if key.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return files[matches[0]].read_text(encoding="utf-8")
    if matches:
        raise NotFoundError(f"query name '{name}' is ambiguous: {', '.join(matches)}")
    raise NotFoundError(f"no query named '{name}' in sql/; known: {', '.join(sorted(files))}")


def views() -> dict[str, str]:
    """The queries under sql/views/, by file name: the lake serves them as views."""
    return {
        name.split("/", 1)[1]: _strip_comments(load(name))
        for name in names()
        if name.startswith("views/")
    }


def _strip_comments(text: str) -> str:
    """A view's text without comment lines (DuckDB keeps the body as given)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
