"""Gold scores: equal to motmetrics' own figures on its shipped real tracker output, and
right on hand-made clips."""

from __future__ import annotations

from pathlib import Path

import motmetrics
import pytest

from labellake.workflows.quality.gold import Clip, read_mot, score
from labellake.workflows.quality.tracks import Track

# py-motmetrics ships TUD-Campus (MOTChallenge 2015 ground truth and the CEM tracker's
# output) inside its wheel; the files are read from there, not copied into the project.
TUD = Path(motmetrics.__file__).parent / "data" / "TUD-Campus"


def test_tud_campus_scores_equal_the_libraries_own_figures() -> None:
    last_gt, gold = read_mot((TUD / "gt.txt").read_text())
    last_ts, tracker = read_mot((TUD / "test.txt").read_text())
    result = score([Clip(max(last_gt, last_ts), gold, tracker)])
    # motmetrics/tests/test_metrics.py::test_motchallenge_files, the TUD-Campus row, and
    # its README's table of the MOTChallenge devkit: IDF1 55.8, MOTA 52.6, 7 switches,
    # 13 false positives, 150 misses.
    assert result.idf1 == pytest.approx(0.557659, abs=1e-6)
    assert result.mota == pytest.approx(0.526462, abs=1e-6)
    assert (result.id_switches, result.false_positives, result.misses) == (7, 13, 150)
    # TrackEval's HOTA on the same files (its HOTA class; py-motmetrics' own HOTA tests
    # assert the same three numbers).
    assert result.hota == pytest.approx(0.3913974378451139, abs=1e-9)
    assert result.deta == pytest.approx(0.418047030142763, abs=1e-9)
    assert result.assa == pytest.approx(0.36912068120832836, abs=1e-9)


def car(object_id: str, frames: range, dx: float = 0.0, **attributes: str) -> Track:
    return Track(
        object_id,
        "Car",
        {f: (10.0 * f + dx, 0.0, 20.0, 20.0) for f in frames},
        dict(attributes),
    )


def test_a_perfect_worker_scores_one() -> None:
    gold = [
        car("g1", range(10), Moving="Dynamic"),
        Track("g2", "Car", {f: (0.0, 100.0, 20.0, 20.0) for f in range(10)}),
    ]
    worker = [
        car("w1", range(10), Moving="Dynamic"),
        Track("w2", "Car", {f: (0.0, 100.0, 20.0, 20.0) for f in range(10)}),
    ]
    result = score([Clip(10, gold, worker)])
    assert (result.idf1, result.mota, result.hota) == (
        pytest.approx(1.0),
        pytest.approx(1.0),
        pytest.approx(1.0),
    )
    assert result.id_switches == 0 and result.box_iou == pytest.approx(1.0)
    assert result.attribute_accuracy == 1.0


def test_clips_pool_their_counts() -> None:
    labeled = Clip(10, [car("g", range(10))], [car("w", range(10))])
    missed = Clip(10, [car("g", range(10))], [])
    result = score([labeled, missed])
    assert result.mota == pytest.approx(0.5)  # 10 misses of 20 gold boxes
    assert result.idf1 == pytest.approx(2 * 10 / (2 * 10 + 0 + 10))
    assert (result.clips, result.frames, result.gold_objects) == (2, 20, 2)
    # The same object id on two clips is two objects.
    assert score([labeled, labeled]).idf1 == pytest.approx(1.0)


def test_an_identity_switch_and_wrong_attributes_are_counted() -> None:
    gold = [
        car("a", range(10), Moving="Dynamic"),
        Track(
            "b", "Car", {f: (0.0, 100.0, 20.0, 20.0) for f in range(10)}, {"Moving": "Stationary"}
        ),
    ]
    # The worker's tracks swap objects at frame 5.
    first = {
        **{f: gold[0].boxes[f] for f in range(5)},
        **{f: gold[1].boxes[f] for f in range(5, 10)},
    }
    second = {
        **{f: gold[1].boxes[f] for f in range(5)},
        **{f: gold[0].boxes[f] for f in range(5, 10)},
    }
    worker = [
        Track("w1", "Car", first, {"Moving": "Dynamic"}),
        Track("w2", "Car", second, {"Moving": "Dynamic"}),
    ]
    result = score([Clip(10, gold, worker)])
    assert result.id_switches == 2
    assert result.mota == pytest.approx(1 - 2 / 20)
    assert result.idf1 < 1 and result.assa < 1 and result.deta == pytest.approx(1.0)
    assert result.attribute_accuracy == 0.5


def test_a_worker_with_no_tracks() -> None:
    result = score([Clip(5, [car("g", range(5))], [])])
    assert result.idf1 == 0 and result.mota == 0 and result.misses == 5
    assert result.box_iou is None and result.attribute_accuracy is None


def test_read_mot_skips_blank_lines_and_counts_frames_from_one() -> None:
    last, tracks = read_mot(
        "1,1,10,20,30,40,1,-1,-1,-1\n\n3,1,11,20,30,40,1,-1,-1,-1\n2,2,0,0,5,5,1,-1,-1,-1\n"
    )
    assert last == 3
    assert {t.object_id: sorted(t.boxes) for t in tracks} == {"1": [0, 2], "2": [1]}
