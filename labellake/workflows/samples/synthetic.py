"""Synthetic driving clips: rendered JPEG frames with moving vehicles and lane lines.

Every clip comes with its ground truth (vehicle boxes and lane polylines per
frame), a sequence file and a line in the input manifest, plus the two label
category configurations of the reference batch (vehicle boxes, lane
polylines). Same seed, same clips.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from labellake.lake import ObjectStore
from labellake.workflows.labeling import formats
from labellake.workflows.samples.truth import ClipTruth, TruthFrame, TruthObject

VEHICLE_TYPES = ("Car", "Van", "Truck", "Bus")
LANE_MARKINGS = ("Road_Edge", "Dashed", "Solid", "Dashed", "Road_Edge")

VEHICLE_CONFIG = {
    "document-version": "2020-08-15",
    "annotationType": "BoundingBox",
    "frameAttributes": [
        {
            "name": "Number_Of_Vehicles",
            "description": "How many vehicles are visible",
            "type": "number",
            "minValue": 0,
            "maxValue": 100,
        }
    ],
    "labels": [
        {
            "label": "Vehicle",
            "attributes": [
                {"name": "Moving", "type": "string", "enum": ["Stationary", "Dynamic"]},
                {"name": "Vehicle_Type", "type": "string", "enum": list(VEHICLE_TYPES)},
            ],
        }
    ],
    "instructions": {
        "shortInstruction": "Draw a tight box around every vehicle and keep its ID across frames.",
        "fullInstruction": "Draw a tight box around every vehicle and keep its ID across frames.",
    },
}
LANE_CONFIG = {
    "document-version": "2020-08-15",
    "annotationType": "Polyline",
    "labels": [
        {
            "label": "Lane",
            "attributes": [
                {
                    "name": "Marking",
                    "type": "string",
                    "enum": ["Solid", "Dashed", "Double", "Road_Edge"],
                },
            ],
        }
    ],
    "instructions": {
        "shortInstruction": "Trace each lane line along its full visible length.",
        "fullInstruction": "Trace each lane line along its full visible length.",
    },
}


@dataclass(frozen=True)
class SampleSet:
    manifest_uri: str
    vehicle_config_uri: str
    lane_config_uri: str
    clips: tuple[str, ...]  # sequence file URIs


@dataclass
class _Vehicle:
    track_id: str
    lane: int
    depth: float  # 0 at the horizon, 1 at the bottom edge
    speed: float  # depth per frame (negative: driving away)
    kind: str
    colour: tuple[int, int, int]
    start: int
    end: int


def _lane_x(lane_bottom_x: float, vp_x: float, t: float, bend: float) -> float:
    return vp_x + (lane_bottom_x - vp_x) * t + bend * (1 - t) ** 2


def render_clip(
    rng: np.random.Generator,
    frames: int,
    width: int,
    height: int,
    clip: str,
    vehicle_classes: bool = False,
) -> tuple[list[bytes], ClipTruth]:
    """JPEG frames and their ground truth for one clip; ``vehicle_classes``: each vehicle
    is labeled with its type (Car, Van, Truck, Bus) instead of Vehicle."""
    horizon = 0.42 * height
    vp_x = width / 2
    lane_bottoms = np.linspace(-0.15 * width, 1.15 * width, len(LANE_MARKINGS))
    vehicles: list[_Vehicle] = []
    lanes = len(LANE_MARKINGS) - 1
    for i in range(int(rng.integers(3, 7))):
        start = int(rng.integers(0, max(1, frames // 3)))
        end = int(min(frames, start + rng.integers(max(2, frames // 2), frames + 1)))
        lane = i % lanes
        ahead = [v for v in vehicles if v.lane == lane]
        # A second vehicle in a lane keeps its distance: same speed, well apart.
        depth = (
            (ahead[0].depth + 0.35 if ahead[0].depth < 0.5 else ahead[0].depth - 0.35)
            if ahead
            else float(rng.uniform(0.25, 0.8))
        )
        vehicles.append(
            _Vehicle(
                track_id=f"{clip}-v{i + 1}",
                lane=lane,
                depth=depth,
                speed=ahead[0].speed if ahead else float(rng.uniform(-0.004, 0.004)),
                kind=str(rng.choice(VEHICLE_TYPES)),
                colour=tuple(int(c) for c in rng.integers(40, 230, 3)),  # type: ignore[misc]
                start=start,
                end=end,
            )
        )
    images: list[bytes] = []
    truth_frames: list[TruthFrame] = []
    for f in range(frames):
        bend = 0.08 * width * math.sin(f / max(frames, 1) * math.pi)
        image = Image.new("RGB", (width, height), (135, 170, 205))
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, horizon, width, height], fill=(70, 70, 74))
        objects: list[TruthObject] = []
        for lane, bottom in enumerate(lane_bottoms):
            points = []
            for t in (0.08, 0.3, 0.55, 0.8, 1.0):
                y = horizon + t * (height - horizon)
                points.append((_lane_x(bottom, vp_x, t, bend), y))
            visible = [(x, y) for x, y in points if -0.05 * width <= x <= 1.05 * width]
            if len(visible) < 2:
                continue
            draw.line(visible, fill=(235, 235, 225), width=3)
            objects.append(
                TruthObject(
                    track_id=f"{clip}-l{lane + 1}",
                    label="Lane",
                    kind="polyline",
                    vertices=[(min(max(x, 0), width - 1), y) for x, y in visible],
                    attributes={"Marking": LANE_MARKINGS[lane]},
                )
            )
        # Far vehicles first, so near ones are drawn on top.
        for vehicle in sorted(vehicles, key=lambda v: v.depth):
            if not vehicle.start <= f < vehicle.end:
                continue
            vehicle.depth += vehicle.speed
            if not 0.12 <= vehicle.depth <= 0.97:
                vehicle.end = f  # it drove out of view
                continue
            t = vehicle.depth
            centre_bottom = (lane_bottoms[vehicle.lane] + lane_bottoms[vehicle.lane + 1]) / 2
            x = _lane_x(centre_bottom, vp_x, t, bend)
            y = horizon + t * (height - horizon)
            w = (0.10 + 0.05 * VEHICLE_TYPES.index(vehicle.kind)) * width * t
            h = w * (0.75 if vehicle.kind in ("Car", "Van") else 0.95)
            box = (x - w / 2, y - h, w, h)
            left, top = max(0.0, box[0]), max(0.0, box[1])
            right, bottom = min(width - 1.0, box[0] + w), min(height - 1.0, box[1] + h)
            if right - left < 4 or bottom - top < 4:
                continue
            draw.rectangle([left, top, right, bottom], fill=vehicle.colour, outline=(20, 20, 20))
            draw.rectangle(
                [left + 0.15 * w, top + 0.1 * h, right - 0.15 * w, top + 0.4 * h], fill=(30, 40, 60)
            )
            attributes = {"Moving": "Dynamic" if abs(vehicle.speed) > 0.001 else "Stationary"}
            if not vehicle_classes:
                attributes["Vehicle_Type"] = vehicle.kind
            objects.append(
                TruthObject(
                    track_id=vehicle.track_id,
                    label=vehicle.kind if vehicle_classes else "Vehicle",
                    kind="box",
                    box=(left, top, right - left, bottom - top),
                    attributes=attributes,
                )
            )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=80)
        images.append(buffer.getvalue())
        truth_frames.append(TruthFrame(frame=f"{f + 1:06d}.jpg", objects=objects))
    return images, ClipTruth(width=width, height=height, frames=truth_frames)


def generate(
    objects: ObjectStore,
    dataset: str = "samples/drive",
    clips: int = 2,
    frames: int = 30,
    seed: int = 7,
    width: int = 640,
    height: int = 360,
    vehicle_classes: bool = False,
) -> SampleSet:
    """Write ``clips`` clips under ``dataset`` in the object store; skip if already there.

    ``vehicle_classes``: the vehicle config has one label per vehicle type (Car, Van,
    Truck, Bus) instead of one Vehicle label with a Vehicle_Type attribute."""
    manifest_key = f"{dataset}/clips.manifest"
    vehicle_key = f"{dataset}/vehicle_label_category.json"
    lane_key = f"{dataset}/lane_label_category.json"
    clip_names = [f"clip-{i + 1:02d}" for i in range(clips)]
    seq_uris = tuple(objects.uri(f"{dataset}/{name}_seq.json") for name in clip_names)
    params_key = f"{dataset}/.params.json"
    shape = {"clips": clips, "frames": frames, "seed": seed, "size": [width, height]}
    params = json.dumps(shape | ({"vehicle_classes": True} if vehicle_classes else {}))
    if (
        objects.exists(manifest_key)
        and objects.exists(params_key)
        and (objects.read_text(params_key) == params)
    ):
        return SampleSet(
            objects.uri(manifest_key), objects.uri(vehicle_key), objects.uri(lane_key), seq_uris
        )
    rng = np.random.default_rng(seed)
    for name in clip_names:
        images, truth = render_clip(rng, frames, width, height, name, vehicle_classes)
        frame_names = []
        for number, data in enumerate(images, start=1):
            frame_name = f"{number:06d}.jpg"
            objects.write_bytes(f"{dataset}/{name}/img1/{frame_name}", data)
            frame_names.append(frame_name)
        prefix = objects.uri(f"{dataset}/{name}/img1") + "/"
        objects.write_text(
            f"{dataset}/{name}_seq.json", json.dumps(formats.sequence_document(prefix, frame_names))
        )
        objects.write_text(f"{dataset}/{name}_gt.json", truth.to_json())
    vehicle_config = VEHICLE_CONFIG
    if vehicle_classes:
        moving = VEHICLE_CONFIG["labels"][0]["attributes"][:1]  # type: ignore[index]
        vehicle_config = {
            **VEHICLE_CONFIG,
            "labels": [{"label": kind, "attributes": moving} for kind in VEHICLE_TYPES],
        }
    objects.write_text(vehicle_key, json.dumps(vehicle_config, indent=1))
    objects.write_text(lane_key, json.dumps(LANE_CONFIG, indent=1))
    objects.write_text(manifest_key, formats.manifest_text([{"source-ref": u} for u in seq_uris]))
    objects.write_text(params_key, params)
    return SampleSet(
        objects.uri(manifest_key), objects.uri(vehicle_key), objects.uri(lane_key), seq_uris
    )


def gold_manifest(objects: ObjectStore, samples: SampleSet, dataset: str) -> str:
    """A gold manifest for the vehicle clips of ``samples`` (written under ``dataset``):
    lines of source-ref and gold-ref, a SeqLabel.json of each clip's known vehicle tracks."""
    config = json.loads(objects.read_text(f"{dataset}/vehicle_label_category.json"))
    class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
    lines = []
    for uri in samples.clips:
        name = uri.rsplit("/", 1)[-1].removesuffix("_seq.json")
        truth = ClipTruth.from_json(objects.read_text(f"{dataset}/{name}_gt.json"))
        frames = []
        for number, truth_frame in enumerate(truth.frames):
            frame = formats.FrameLabels(frame_no=number, frame=truth_frame.frame)
            for obj in truth_frame.objects:
                if obj.kind != "box" or obj.box is None or obj.label not in class_ids:
                    continue
                frame.shapes.append(
                    formats.Shape(
                        object_id=obj.track_id,
                        object_name=f"{obj.label}:{obj.track_id}",
                        class_id=class_ids[obj.label],
                        kind="box",
                        box=obj.box,
                        attributes=dict(obj.attributes),
                    )
                )
            frames.append(frame)
        gold_key = f"{dataset}/{name}_gold.json"
        objects.write_text(gold_key, json.dumps(formats.seqlabel_document(frames, tracking=True)))
        lines.append({"source-ref": uri, "gold-ref": objects.uri(gold_key)})
    return objects.write_text(f"{dataset}/gold.manifest", formats.manifest_text(lines))
