"""How many of the errors the simulated workers inject do the QA checks find?

Runs reference batches over synthetic clips with the simulated workforce,
loads them into the lake, and compares the level-1 vehicle jobs' qa_findings
with the workers' own record of injected errors (simulation/injected-errors.jsonl).

- recall: injected errors of the kinds the checks target (size jumps, position
  jumps, ID switches, duplicates, out-of-image boxes, gaps) that have a finding on
  the same object at the error's frame or the next one;
- precision: findings that an injected error explains (same object, at the error's
  frame or the next one; a duplicate also explains findings on its twin).

Run: .venv/bin/python benchmarks/qa_recall.py [--clips 20] [--frames 60]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from labellake.settings import Settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.demo import demo_request

TARGETED = {"size_jump", "position_jump", "id_switch", "duplicate", "out_of_image", "gap"}


def evaluate(home: Path, clips: int, frames: int, seed: int) -> dict[str, object]:
    engine = build_engine(open_home(Settings(home=home, simulated_job_seconds=0, seed=seed)))
    samples = synthetic.generate(
        engine.objects, dataset="qa", clips=clips, frames=frames, seed=seed
    )
    batch = engine.submit(demo_request("qa", samples))
    assert engine.run_to_end(batch, poll_s=0) == "COMPLETE"
    job = engine.state.job("qa-vehicle")
    root = job["output_manifest_uri"].rsplit("/manifests/", 1)[0]
    ledger = [
        json.loads(line)
        for line in Path(root, "simulation/injected-errors.jsonl").read_text().splitlines()
    ]
    findings = engine.lake.query(
        "SELECT source_ref, object_id, frame_no, check_name FROM qa_findings "
        "WHERE job_name = 'qa-vehicle'"
    ).to_pylist()
    explained: set[tuple[str, str, int]] = set()
    for error in ledger:
        for frame in (error["frame_no"], error["frame_no"] + 1):
            explained.add((error["source_ref"], error["object_id"], frame))
            if error["kind"] == "duplicate":
                twin = error["detail"].removeprefix("duplicates ")
                explained.add((error["source_ref"], twin, frame))
    found_at = {(f["source_ref"], f["object_id"], f["frame_no"]) for f in findings}
    targeted = [e for e in ledger if e["kind"] in TARGETED]
    hits = Counter()
    totals = Counter()
    for error in targeted:
        totals[error["kind"]] += 1
        if any(
            (error["source_ref"], error["object_id"], frame) in found_at
            for frame in (error["frame_no"], error["frame_no"] + 1)
        ):
            hits[error["kind"]] += 1
    true_findings = sum(
        (f["source_ref"], f["object_id"], f["frame_no"]) in explained for f in findings
    )
    return {
        "injected": len(targeted),
        "recall": sum(hits.values()) / max(1, len(targeted)),
        "precision": true_findings / max(1, len(findings)),
        "findings": len(findings),
        "by_kind": {k: f"{hits[k]}/{totals[k]}" for k in sorted(totals)},
        "by_check": dict(Counter(f["check_name"] for f in findings)),
        "unexplained": [
            f for f in findings if (f["source_ref"], f["object_id"], f["frame_no"]) not in explained
        ][:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(Path(tmp), args.clips, args.frames, args.seed)
    print(
        f"injected errors of the targeted kinds: {result['injected']}; "
        f"findings: {result['findings']}"
    )
    print(f"recall {result['recall']:.1%}, precision {result['precision']:.1%}")
    print(f"found per kind: {result['by_kind']}")
    print(f"findings per check: {result['by_check']}")
    if result["unexplained"]:
        print("unexplained findings (first 10):")
        for finding in result["unexplained"]:
            print(f"  {finding}")


if __name__ == "__main__":
    main()
