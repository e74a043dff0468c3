"""Deleting a batch removes every file it created, and the folders they leave empty.

After `labellake batch delete` (or DELETE /batch, or Engine.delete) the object store and
the lake look exactly as they did before the batch was submitted: no backend record
(simulated-jobs/<job>.json), no output, no chained manifest, no lake file, and no empty
partition folder. `--dry-run` lists every one of those files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labellake.portal.cli.main import main
from labellake.workflows.labeling.engine import Engine


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def tree(home: Path) -> set[str]:
    """Every file and folder under objects/ and lake/, folders marked with a trailing '/'."""
    return {
        f"{path.relative_to(home)}{'/' if path.is_dir() else ''}"
        for zone in ("objects", "lake")
        for path in (home / zone).rglob("*")
    }


def files(home: Path) -> set[str]:
    return {entry for entry in tree(home) if not entry.endswith("/")}


@pytest.mark.parametrize("way", ["cli", "engine"])
def test_delete_restores_the_tree_from_before_the_batch(
    capsys: pytest.CaptureFixture[str],
    loading_engine: Engine,
    request_for: Callable[..., dict[str, Any]],
    tmp_path: Path,
    way: str,
) -> None:
    payload = request_for("b1")  # writes the sample clips, which stay
    before = tree(tmp_path)
    assert loading_engine.run_to_end(loading_engine.submit(payload), poll_s=0) == "COMPLETE"
    created = files(tmp_path) - before
    assert any(name.startswith("objects/simulated-jobs/") for name in created)
    assert any("job_name=b1-vehicle/" in name for name in created)

    if way == "cli":
        code, out, err = run(
            capsys, "--home", str(tmp_path), "batch", "delete", "--batch-id", "b1", "--dry-run"
        )
        assert code == 0, err
        plan = json.loads(out)
    else:
        plan = loading_engine.delete("b1", dry_run=True)
    listed = {str(Path(uri).relative_to(tmp_path)) for uri in plan["objects"]}
    listed |= {f"lake/{key}" for key in plan["lakeFiles"]}
    assert listed == created

    if way == "cli":
        code, _, err = run(
            capsys, "--home", str(tmp_path), "batch", "delete", "--batch-id", "b1", "--yes"
        )
        assert code == 0, err
    else:
        loading_engine.delete("b1")
    assert tree(tmp_path) == before
