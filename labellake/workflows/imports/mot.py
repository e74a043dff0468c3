"""MOTChallenge folders -> frames, sequence files, ground truth and an input manifest.

A MOTChallenge sequence is a folder with img1/ (frames), gt/gt.txt (one box per
line: frame, id, left, top, width, height, conf, class, visibility) and
seqinfo.ini. Like the reference's frame splitting, the import keeps N frames
at a given stride. Where a folder has no images, placeholder frames are
rendered at the sequence's size so the clip can still be labeled and viewed.
"""

from __future__ import annotations

import configparser
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from labellake.errors import LabellakeError
from labellake.lake import ObjectStore
from labellake.workflows.labeling import formats
from labellake.workflows.samples.truth import ClipTruth, TruthFrame, TruthObject

# MOT16/17 class ids; older sequences (MOT15, TUD) write -1 and hold pedestrians.
MOT_CLASSES = {
    -1: "Pedestrian",
    1: "Pedestrian",
    2: "Person_on_vehicle",
    3: "Car",
    4: "Bicycle",
    5: "Motorbike",
    6: "Non_motorized_vehicle",
    7: "Static_person",
    8: "Distractor",
    9: "Occluder",
    10: "Occluder_on_ground",
    11: "Occluder_full",
    12: "Reflection",
}


@dataclass(frozen=True)
class MotBox:
    frame: int
    track_id: int
    box: tuple[float, float, float, float]
    label: str


@dataclass(frozen=True)
class ImportedClips:
    manifest_uri: str
    label_config_uri: str
    clips: tuple[str, ...]


def parse_gt(text: str, source: str) -> list[MotBox]:
    """gt.txt lines (MOT15 or MOT16+ layout); rows with conf 0 ("ignore") are skipped."""
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            frame, track = int(float(parts[0])), int(float(parts[1]))
            left, top, width, height = (float(v) for v in parts[2:6])
            conf = float(parts[6]) if len(parts) > 6 else 1.0
            # MOT16+ writes 9 columns (..., class, visibility); MOT15 writes 10 (..., x, y, z)
            # and has no class.
            cls = int(float(parts[7])) if len(parts) == 9 else -1
        except (ValueError, IndexError) as exc:
            raise LabellakeError(
                f"{source} line {number}: expected 'frame,id,left,top,width,height,conf,class,"
                f"visibility', got '{line[:80]}'"
            ) from exc
        if conf == 0:
            continue
        boxes.append(
            MotBox(frame, track, (left, top, width, height), MOT_CLASSES.get(cls, "Pedestrian"))
        )
    if not boxes:
        raise LabellakeError(f"{source} has no ground-truth boxes")
    return boxes


def _seqinfo(folder: Path) -> dict[str, str]:
    path = folder / "seqinfo.ini"
    if not path.exists():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
        return dict(parser["Sequence"])
    except (configparser.Error, KeyError) as exc:
        raise LabellakeError(f"{path}: not a [Sequence] ini file ({exc})") from exc


def _placeholder(width: int, height: int, number: int, boxes: list[MotBox]) -> bytes:
    image = Image.new("RGB", (width, height), (96, 100, 104))
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), f"frame {number} (no image in the source folder)", fill=(230, 230, 230))
    for box in boxes:
        left, top, w, h = box.box
        draw.rectangle([left, top, left + w, top + h], outline=(200, 200, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def import_sequence(
    objects: ObjectStore, folder: Path, dataset: str, frames: int = 150, stride: int = 1
) -> tuple[str, set[str]]:
    """One MOT sequence; returns its sequence file URI and the labels it contains."""
    if frames < 1 or stride < 1:
        raise LabellakeError("--frames and --stride must be at least 1")
    info = _seqinfo(folder)
    gt_path = next((p for p in (folder / "gt" / "gt.txt", folder / "gt.txt") if p.exists()), None)
    if gt_path is None:
        raise LabellakeError(f"{folder}: no gt/gt.txt (or gt.txt); is it a MOTChallenge folder?")
    boxes = parse_gt(gt_path.read_text(), str(gt_path))
    by_frame: dict[int, list[MotBox]] = defaultdict(list)
    for box in boxes:
        by_frame[box.frame].append(box)
    length = int(info.get("seqlength", max(by_frame)))
    width = int(info.get("imwidth", 0)) or int(max(b.box[0] + b.box[2] for b in boxes)) + 1
    height = int(info.get("imheight", 0)) or int(max(b.box[1] + b.box[3] for b in boxes)) + 1
    image_dir = folder / info.get("imdir", "img1")
    ext = info.get("imext", ".jpg")
    name = info.get("name", folder.name)
    chosen = list(range(1, length + 1, stride))[:frames]
    frame_names, truth_frames = [], []
    for number in chosen:
        frame_name = f"{number:06d}.jpg"
        source = image_dir / f"{number:06d}{ext}"
        if source.exists():
            data = source.read_bytes() if ext.lower() in (".jpg", ".jpeg") else _to_jpeg(source)
        else:
            data = _placeholder(width, height, number, by_frame.get(number, []))
        objects.write_bytes(f"{dataset}/{name}/img1/{frame_name}", data)
        frame_names.append(frame_name)
        truth_frames.append(
            TruthFrame(
                frame=frame_name,
                objects=[
                    TruthObject(
                        track_id=f"{name}-{b.track_id}", label=b.label, kind="box", box=b.box
                    )
                    for b in by_frame.get(number, [])
                ],
            )
        )
    prefix = objects.uri(f"{dataset}/{name}/img1") + "/"
    seq_uri = objects.write_text(
        f"{dataset}/{name}_seq.json", json.dumps(formats.sequence_document(prefix, frame_names))
    )
    objects.write_text(
        f"{dataset}/{name}_gt.json", ClipTruth(width, height, truth_frames).to_json()
    )
    return seq_uri, {b.label for b in boxes}


def _to_jpeg(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def import_folders(
    objects: ObjectStore, folders: list[Path], dataset: str, frames: int = 150, stride: int = 1
) -> ImportedClips:
    """Several MOT sequences into one dataset with one input manifest and label config."""
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise LabellakeError(f"not a folder: {', '.join(missing)}")
    clips, labels = [], set()
    for folder in folders:
        uri, found = import_sequence(objects, folder, dataset, frames, stride)
        clips.append(uri)
        labels |= found
    config = {
        "document-version": "2020-08-15",
        "annotationType": "BoundingBox",
        "labels": [{"label": label} for label in sorted(labels)],
        "instructions": {
            "shortInstruction": "Box every object and keep its ID across frames.",
            "fullInstruction": "Box every object and keep its ID across frames.",
        },
    }
    config_uri = objects.write_text(f"{dataset}/label_category.json", json.dumps(config, indent=1))
    manifest_uri = objects.write_text(
        f"{dataset}/clips.manifest", formats.manifest_text([{"source-ref": u} for u in clips])
    )
    return ImportedClips(manifest_uri, config_uri, tuple(clips))
