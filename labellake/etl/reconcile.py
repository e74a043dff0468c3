"""Every import reconciles: per input file, shapes seen = rows written + shapes explained.

A reader counts each shape where it finds it in the input, independently of the row it
builds from it; the loader counts the rows it writes; every shape that is not written is
explained by one `Problem`, which becomes an `etl_errors` row. A difference is a loss
nobody can account for, and the import says so and fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Problem:
    """An input that could not be loaded, or loaded only in part; the rest still loads."""

    file: str
    line: int | None
    reason: str
    shapes: int = 0  # shapes of the input it accounts for: seen and not written


@dataclass
class Tally:
    """One input file's reconciliation."""

    file: str
    seen: int = 0
    written: int = 0
    explained: int = 0

    @property
    def unexplained(self) -> int:
        """Shapes seen that are neither written nor explained: a loss nobody can account for
        (negative when more rows were written than shapes seen, which is as wrong)."""
        return self.seen - self.written - self.explained


@dataclass
class ImportLog:
    """What one job's import saw, wrote and could not write, per input file."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def tally(self, file: str) -> Tally:
        if file not in self.tallies:
            self.tallies[file] = Tally(file)
        return self.tallies[file]

    def saw(self, file: str, shapes: int = 1) -> None:
        """``shapes`` more shapes found in ``file``."""
        self.tally(file).seen += shapes

    def wrote(self, file: str, rows: int) -> None:
        self.tally(file).written += rows

    def drop(self, file: str, line: int | None, reason: str, shapes: int = 1) -> None:
        """``shapes`` seen in ``file`` that will not become rows, and why; one etl_errors
        row. ``reason`` names what is wrong and how to fix it, never the file's content."""
        self.problems.append(Problem(file, line, reason, shapes))
        self.tally(file).explained += shapes

    def note(self, file: str, line: int | None, reason: str) -> None:
        """A problem that loses no shape (an unreadable side file, an unknown field)."""
        self.problems.append(Problem(file, line, reason, 0))

    @property
    def seen(self) -> int:
        return sum(t.seen for t in self.tallies.values())

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tallies.values())

    @property
    def explained(self) -> int:
        return sum(t.explained for t in self.tallies.values())

    @property
    def unexplained(self) -> list[Tally]:
        """The files whose numbers do not add up."""
        return [t for t in self.tallies.values() if t.unexplained]

    def rows(self) -> list[dict[str, Any]]:
        """The per-file reconciliation as etl_loads stores it (its `files` column)."""
        return [
            {"file": t.file, "seen": t.seen, "written": t.written, "explained": t.explained}
            for t in self.tallies.values()
        ]


@dataclass(frozen=True)
class JobCheck:
    """One loaded job's reconciliation, as etl_loads recorded it."""

    job_name: str
    source_format: str | None
    seen: int | None  # None: loaded before imports were reconciled
    written: int
    explained: int | None
    files: tuple[Tally, ...]

    @property
    def lost(self) -> tuple[Tally, ...]:
        return tuple(t for t in self.files if t.unexplained)

    @property
    def status(self) -> str:
        if self.seen is None:
            return "unknown"
        return "lost" if self.lost else "ok"


def check_loads(loads: list[dict[str, Any]]) -> list[JobCheck]:
    """The reconciliation of every etl_loads row (as dicts), lost jobs first."""
    checks = [
        JobCheck(
            job_name=row["job_name"],
            source_format=row.get("source_format"),
            seen=row.get("shapes_seen"),
            written=row.get("annotations") or 0,
            explained=row.get("shapes_explained"),
            files=tuple(
                Tally(f["file"], f["seen"] or 0, f["written"] or 0, f["explained"] or 0)
                for f in row.get("files") or []
            ),
        )
        for row in loads
    ]
    order = {"lost": 0, "unknown": 1, "ok": 2}
    return sorted(checks, key=lambda check: (order[check.status], check.job_name))
