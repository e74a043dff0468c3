"""The quality layer on seeded batches: what each audit routing catches, whether the 90%
bound on the errors left holds, how well worker error rates are estimated, and gold
scores against motmetrics' own figures.

Every batch is one level-1 vehicle tracking job over synthetic clips, labeled by the
simulated workforce (with the errors no QA check sees), and one audit of it, run through
labellake's engine as `labellake runner` runs it. Four homes run the same seeded batches
one after another, each with its own history (its audits train its risk model and its
worker reliability), and differ only in the audit:
- risk: `qaFilter: {"mode": "risk", "auditBudget": B}`;
- findings: `qaFilter: {"auditBudget": B}` (the objects with the most QA findings first);
- random: `downSamplingRate: 100 B` (whole clips, as before this layer);
- full: every object audited. Its verdicts are the truth the others are scored against
  (what an auditor fails), and nothing of it reaches the other homes.

Printed:
(a) injected errors (the simulated workers' own ledger) caught per method, per error kind:
    an error is caught when its object went to the audit and the auditor failed it (a
    missed object: when its clip went to the audit, where the auditor draws it);
(b) coverage: how often the 90% upper bound of dataset_quality holds the true residual
    rate (objects the full audit fails that the method's audit did not see, over all):
    over the 20 batches as run, and, since 20 is few for a share, over 200 fresh routing
    draws per batch from the probabilities the batch recorded, scored the same way;
(c) Spearman rank correlation between the risk home's worker_reliability estimates after
    the last batch and each worker's true rate (the full audit's fail rate), per error type;
(d) IDF1/MOTA of the gold scorer on motmetrics' shipped TUD-Campus files beside the
    figures motmetrics' own test suite asserts for them.

Run: .venv/bin/python benchmarks/quality.py [--seeds 20] [--clips 20] [--frames 40]
     [--budget 0.2] [--team 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from labellake.settings import Settings
from labellake.workflows.compose import build_engine, open_home
from labellake.workflows.labeling.simulation import QUIET_KINDS, clip_key
from labellake.workflows.quality.bound import Audited, bound
from labellake.workflows.samples import synthetic

METHODS = ("risk", "findings", "random", "full")
ERROR_TYPES = ("any", "spurious", "label", "attribute", "geometry")


def request(batch_id: str, samples: Any, method: str, budget: float) -> dict[str, Any]:
    audit: dict[str, Any] = {"chainFromJobName": f"{batch_id}-vehicle"}
    if method == "risk":
        audit["qaFilter"] = {"mode": "risk", "auditBudget": budget}
    elif method == "findings":
        audit["qaFilter"] = {"auditBudget": budget}
    elif method == "random":
        audit["downSamplingRate"] = 100 * budget
    return {
        "batchId": batch_id,
        "labelingJobs": [
            {
                "jobName": f"{batch_id}-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-vehicle-audit",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": audit,
            },
        ],
    }


def run_home(args: tuple[str, Path, int, int, int, float, int, int]) -> dict[str, Any]:
    """Every seeded batch in one home, after its history; what its audits saw and found."""
    method, root, seeds, clips, frames, budget, team, history = args
    home = root / method
    engine = build_engine(
        open_home(Settings(home=home, simulated_job_seconds=0, simulated_team_size=team, seed=0))
    )
    batches = []
    started = time.perf_counter()
    for seed in range(-history, seeds):
        # The history: fully audited batches (the same in every home), left out of the
        # figures; the risk model and the workers' reliability start from them.
        batch_id = f"history-{-seed}" if seed < 0 else f"quality-{seed}"
        samples = synthetic.generate(
            engine.objects,
            dataset=f"set{seed}",
            clips=clips,
            frames=frames,
            seed=1000 + seed,
            vehicle_classes=True,  # a class per vehicle type, so labels can be swapped
        )
        engine.submit(request(batch_id, samples, "full" if seed < 0 else method, budget))
        status = engine.run_to_end(batch_id, poll_s=0)
        if status != "COMPLETE":
            raise SystemExit(f"{method}: batch {batch_id} ended {status}")
        if seed < 0:
            continue
        job = engine.state.job(f"{batch_id}-vehicle")
        root_uri = job["output_manifest_uri"].rsplit("/manifests/", 1)[0]
        ledger = [
            json.loads(line)
            for line in Path(root_uri, "simulation/injected-errors.jsonl").read_text().splitlines()
        ]
        routing = engine.lake.query(
            "SELECT source_ref, object_id, worker_id, probability, routed, failed, error_type "
            "FROM audit_routing WHERE job_name = ?",
            [f"{batch_id}-vehicle-audit"],
        ).to_pylist()
        quality = engine.lake.query(
            "SELECT objects, audited, errors_found, residual_rate, upper_rate "
            "FROM dataset_quality WHERE job_name = ?",
            [f"{batch_id}-vehicle-audit"],
        ).to_pylist()
        for row in [*ledger, *routing]:  # homes differ in where; clips are named alike
            row["source_ref"] = clip_key(row["source_ref"])
        batches.append(
            {"method": method, "ledger": ledger, "routing": routing, "quality": quality[0]}
        )
    reliability = engine.lake.query(
        "SELECT worker_id, error_type, estimate, lower, upper, evidence FROM worker_reliability "
        "WHERE job_name = ?",
        [f"quality-{seeds - 1}-vehicle-audit"],
    ).to_pylist()
    return {
        "method": method,
        "batches": batches,
        "reliability": reliability,
        "seconds": time.perf_counter() - started,
    }


def caught(batch: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """Injected errors per kind, and those the batch's audit caught."""
    failed = {(r["source_ref"], r["object_id"]) for r in batch["routing"] if r["failed"]}
    opened = {r["source_ref"] for r in batch["routing"] if r["routed"]}
    total, hit = Counter(), Counter()
    for error in batch["ledger"]:
        total[error["kind"]] += 1
        if error["kind"] == "missed":
            hit[error["kind"]] += error["source_ref"] in opened
        else:
            hit[error["kind"]] += (error["source_ref"], error["object_id"]) in failed
    return total, hit


def failed_objects(batch: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["source_ref"], r["object_id"]) for r in batch["routing"] if r["failed"]}


def seen_objects(batch: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["source_ref"], r["object_id"]) for r in batch["routing"] if r["routed"]}


def true_residual(batch: dict[str, Any], truth: dict[str, Any]) -> float:
    """Objects the full audit failed that this batch's audit did not see, over all."""
    wrong = failed_objects(truth) - seen_objects(batch)
    return len(wrong) / max(1, len(truth["routing"]))


def replayed_coverage(
    batch: dict[str, Any], truth: dict[str, Any], draws: int, rng: np.random.Generator
) -> float:
    """Share of ``draws`` fresh routing draws with the batch's recorded probabilities (per
    object, or per clip where whole clips were sampled) whose 90% bound holds the true
    residual. The auditor's verdicts are the full audit's (they agree object for object
    with the routed audits')."""
    wrong = failed_objects(truth)
    rows = batch["routing"]
    keys = [(r["source_ref"], r["object_id"]) for r in rows]
    probability = np.array([r["probability"] for r in rows])
    clips = sorted({r["source_ref"] for r in rows})
    by_clip = batch["method"] == "random"
    held = 0
    for _ in range(draws):
        if by_clip:
            taken = {c for c in clips if rng.random() < probability[0]}
            routed = np.array([k[0] in taken for k in keys])
        else:
            routed = rng.random(len(rows)) < probability
        sample = [
            Audited(float(p), k in wrong)
            for k, p, r in zip(keys, probability, routed, strict=True)
            if r
        ]
        actual = sum(k in wrong for k, r in zip(keys, routed, strict=True) if not r) / len(rows)
        held += actual <= bound(probability, sample).upper_rate + 1e-12
    return held / draws


def true_rates(full: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each worker's share of objects the full audit failed, per error type."""
    objects: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    for batch in full["batches"]:
        for row in batch["routing"]:
            objects[row["worker_id"]] += 1
            if row["failed"]:
                errors["any"][row["worker_id"]] += 1
                errors[row["error_type"] or "geometry"][row["worker_id"]] += 1
    return {kind: {w: errors[kind][w] / n for w, n in objects.items()} for kind in ERROR_TYPES}


def gold_agreement() -> list[tuple[str, float, float]]:
    import motmetrics

    from labellake.workflows.quality.gold import Clip, read_mot, score

    tud = Path(motmetrics.__file__).parent / "data" / "TUD-Campus"
    last_gt, gold = read_mot((tud / "gt.txt").read_text())
    last_ts, tracker = read_mot((tud / "test.txt").read_text())
    result = score([Clip(max(last_gt, last_ts), gold, tracker)])
    # motmetrics/tests/test_metrics.py::test_motchallenge_files, row TUD-Campus (the same
    # figures as the MOTChallenge devkit in its README). motmetrics 1.4 itself no longer
    # runs on numpy 2 (np.asfarray), so its figures are quoted, not recomputed.
    return [
        ("IDF1", result.idf1, 0.557659),
        ("MOTA", result.mota, 0.526462),
        ("ID switches", result.id_switches, 7),
        ("false positives", result.false_positives, 13),
        ("misses", result.misses, 150),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--budget", type=float, default=0.2)
    parser.add_argument("--team", type=int, default=10, help="labelers in the simulated team")
    parser.add_argument(
        "--history", type=int, default=2, help="fully audited batches before the seeded ones"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--draws", type=int, default=200, help="routing draws replayed per batch for (b)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [
            (
                m,
                Path(tmp),
                args.seeds,
                args.clips,
                args.frames,
                args.budget,
                args.team,
                args.history,
            )
            for m in METHODS
        ]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            results = {r["method"]: r for r in pool.map(run_home, jobs)}
    wall = time.perf_counter() - started
    full = results["full"]
    print(
        f"{args.seeds} seeded batches x {args.clips} clips x {args.frames} frames, "
        f"{args.team} labelers, audit budget {args.budget:g}, after {args.history} fully "
        f"audited batches; {platform.machine()}, "
        f"{multiprocessing.cpu_count()} cores; {wall:.0f} s"
    )
    objects = sum(len(b["routing"]) for b in full["batches"])
    failing_all = sum(b["quality"]["errors_found"] for b in full["batches"])
    print(f"labeled objects: {objects}; the full audit fails {failing_all}")

    print("\n(a) injected errors caught (sum over batches)")
    kinds = sorted({e["kind"] for b in full["batches"] for e in b["ledger"]})
    totals = {m: (Counter(), Counter()) for m in METHODS}
    audited = {}
    for method in METHODS:
        for batch in results[method]["batches"]:
            total, hit = caught(batch)
            totals[method][0].update(total)
            totals[method][1].update(hit)
        audited[method] = sum(b["quality"]["audited"] for b in results[method]["batches"])
    header = f"{'kind':<18}{'injected':>9}" + "".join(f"{m:>10}" for m in METHODS)
    print(header)
    for kind in [*kinds, "quiet kinds", "all"]:
        wanted = (
            kinds
            if kind == "all"
            else [k for k in kinds if k in QUIET_KINDS]
            if kind == "quiet kinds"
            else [kind]
        )
        injected = sum(totals["full"][0][k] for k in wanted)
        cells = "".join(f"{sum(totals[m][1][k] for k in wanted):>10}" for m in METHODS)
        mark = " (quiet)" if kind in QUIET_KINDS else ""
        print(f"{kind + mark:<18}{injected:>9}{cells}")
    print(f"{'objects audited':<18}{objects:>9}" + "".join(f"{audited[m]:>10}" for m in METHODS))
    failing = {
        m: sum(
            len(failed_objects(truth) & seen_objects(batch))
            for batch, truth in zip(results[m]["batches"], full["batches"], strict=True)
        )
        for m in METHODS
    }
    print(
        f"{'failing objects':<18}{failing['full']:>9}"
        + "".join(f"{failing[m]:>10}" for m in METHODS)
    )
    all_hits = {m: sum(totals[m][1].values()) for m in METHODS}
    quiet_hits = {m: sum(totals[m][1][k] for k in kinds if k in QUIET_KINDS) for m in METHODS}
    for method in ("risk", "findings"):
        print(
            f"{method} / random: all {all_hits[method] / max(1, all_hits['random']):.2f}x, "
            f"quiet {quiet_hits[method] / max(1, quiet_hits['random']):.2f}x"
        )

    print("\n(b) 90% bound on the residual error rate: coverage over batches")
    for method in ("risk", "findings", "random"):
        held, estimates, truths, uppers = 0, [], [], []
        for batch, truth in zip(results[method]["batches"], full["batches"], strict=True):
            actual = true_residual(batch, truth)
            quality = batch["quality"]
            held += actual <= quality["upper_rate"] + 1e-12
            estimates.append(quality["residual_rate"])
            truths.append(actual)
            uppers.append(quality["upper_rate"])
        rng = np.random.default_rng(0)
        replayed = np.mean(
            [
                replayed_coverage(batch, truth, args.draws, rng)
                for batch, truth in zip(results[method]["batches"], full["batches"], strict=True)
            ]
        )
        print(
            f"{method:<9} coverage {held / len(truths):.2f} ({held}/{len(truths)} batches), "
            f"{replayed:.3f} over {args.draws} routing draws per batch; mean true residual "
            f"{np.mean(truths):.3f}, estimate {np.mean(estimates):.3f}, "
            f"bound {np.mean(uppers):.3f}"
        )

    print("\n(c) worker error rates, risk home after the last batch vs the full audit's")
    rates = true_rates(full)
    for error_type in ERROR_TYPES:
        estimated = {
            r["worker_id"]: r["estimate"]
            for r in results["risk"]["reliability"]
            if r["error_type"] == error_type
        }
        workers = sorted(set(estimated) & set(rates[error_type]))
        rho = spearmanr(
            [estimated[w] for w in workers], [rates[error_type][w] for w in workers]
        ).statistic
        print(f"{error_type:<10} Spearman {rho:.2f} over {len(workers)} workers")

    print("\n(d) gold scorer on motmetrics' TUD-Campus files vs motmetrics' own figures")
    for name, ours, theirs in gold_agreement():
        same = "equal" if abs(ours - theirs) < 5e-7 else "DIFFERENT"
        print(f"{name:<16} labellake {ours:.6f}  motmetrics {theirs:.6f}  {same}")
    print("\nseconds per home: " + ", ".join(f"{m} {results[m]['seconds']:.0f}" for m in METHODS))


if __name__ == "__main__":
    main()
