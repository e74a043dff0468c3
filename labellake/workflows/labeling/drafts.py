"""The labeling page's work in progress (a draft) and what happens to it.

A draft is plain JSON, shared with the canvas in the browser:

    {"frames": [{"frame": "000001.jpg",
                 "attributes": {"Frame_Quality": "Good"},
                 "objects": [{"id": "...", "name": "Vehicle:1", "label": "Vehicle",
                              "kind": "box", "box": [left, top, width, height],
                              "points": [[x, y], ...], "attributes": {...},
                              "keyframe": true}]}]}

An object keeps its id on every frame it appears in. ``keyframe`` is false on
frames filled in by interpolation. This module copies objects forward,
interpolates boxes (and shapes with the same number of vertices) between
keyframes, validates a draft against the label category config and the image,
converts it to and from SeqLabel frames, and tells whether an audit changed
anything.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from labellake.workflows.labeling import formats

AUDIT_ATTRIBUTE = "audit"
MIN_VERTICES = {"polyline": 2, "polygon": 3, "keypoint": 1}
SHAPE_KINDS = ("box", "polyline", "polygon", "keypoint")


class DraftError(ValueError):
    """A draft that cannot be submitted; ``problems`` names each frame and object."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems


def empty_draft(frame_names: list[str]) -> dict[str, Any]:
    return {"frames": [{"frame": name, "attributes": {}, "objects": []} for name in frame_names]}


# --- Ground Truth frames in and out ----------------------------------------------------


def from_frame_labels(
    frames: list[formats.FrameLabels], frame_names: list[str], class_map: dict[str, str]
) -> dict[str, Any]:
    """A draft holding labels read from a SeqLabel.json (an audit starts from its parent's)."""
    draft = empty_draft(frame_names)
    index = {name: i for i, name in enumerate(frame_names)}
    for position, frame in enumerate(frames):
        slot = index.get(frame.frame)
        if slot is None:
            slot = frame.frame_no if 0 <= frame.frame_no < len(frame_names) else position
        if slot >= len(frame_names):
            continue
        target = draft["frames"][slot]
        target["attributes"] = dict(frame.attributes)
        for shape in frame.shapes:
            entry: dict[str, Any] = {
                "id": shape.object_id,
                "name": shape.object_name,
                "label": class_map.get(str(shape.class_id), str(shape.class_id)),
                "kind": shape.kind,
                "attributes": dict(shape.attributes),
                "keyframe": True,
            }
            if shape.kind == "box" and shape.box is not None:
                entry["box"] = [float(v) for v in shape.box]
            else:
                entry["points"] = [[float(x), float(y)] for x, y in shape.vertices or []]
            target["objects"].append(entry)
    return draft


def to_frame_labels(draft: dict[str, Any], config: dict[str, Any]) -> list[formats.FrameLabels]:
    """The draft as SeqLabel frames (frame numbers from 0, class ids from the config)."""
    class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
    frames = []
    for number, frame in enumerate(draft["frames"]):
        shapes = []
        for obj in frame["objects"]:
            box = tuple(float(v) for v in obj["box"]) if obj["kind"] == "box" else None
            vertices = (
                None
                if obj["kind"] == "box"
                else [(float(x), float(y)) for x, y in obj.get("points") or []]
            )
            shapes.append(
                formats.Shape(
                    object_id=str(obj["id"]),
                    object_name=str(obj.get("name") or obj["id"]),
                    class_id=class_ids[obj["label"]],
                    kind=obj["kind"],
                    box=box,  # type: ignore[arg-type]
                    vertices=vertices,
                    attributes={k: str(v) for k, v in (obj.get("attributes") or {}).items()},
                )
            )
        frames.append(
            formats.FrameLabels(
                frame_no=number,
                frame=frame["frame"],
                shapes=shapes,
                attributes={k: str(v) for k, v in (frame.get("attributes") or {}).items()},
            )
        )
    return frames


# --- editing helpers ---------------------------------------------------------------------


def copy_previous(draft: dict[str, Any], frame: int) -> dict[str, Any]:
    """Objects of frame ``frame - 1`` that frame ``frame`` lacks, copied with their ids."""
    if frame <= 0 or frame >= len(draft["frames"]):
        return draft
    result = copy.deepcopy(draft)
    target = result["frames"][frame]
    present = {obj["id"] for obj in target["objects"]}
    for obj in result["frames"][frame - 1]["objects"]:
        if obj["id"] not in present:
            target["objects"].append({**copy.deepcopy(obj), "keyframe": True})
    return result


def _lerp(a: list[float], b: list[float], t: float) -> list[float]:
    return [round(x + (y - x) * t, 2) for x, y in zip(a, b, strict=True)]


def interpolate(draft: dict[str, Any], object_id: str) -> dict[str, Any]:
    """Fill the frames between each two keyframes of an object by linear interpolation.

    Boxes interpolate their left, top, width and height; other shapes interpolate
    vertex by vertex when both keyframes have the same number of vertices. Frames
    already holding a keyframe of the object are kept; attributes come from the
    earlier keyframe.
    """
    result = copy.deepcopy(draft)
    frames = result["frames"]
    keys = [
        (i, obj)
        for i, frame in enumerate(frames)
        for obj in frame["objects"]
        if obj["id"] == object_id and obj.get("keyframe", True)
    ]
    for (start, first), (end, last) in zip(keys, keys[1:], strict=False):
        if end - start < 2 or first["kind"] != last["kind"]:
            continue
        if first["kind"] != "box" and len(first.get("points") or []) != len(
            last.get("points") or []
        ):
            continue
        for i in range(start + 1, end):
            t = (i - start) / (end - start)
            filled = {**copy.deepcopy(first), "keyframe": False}
            if first["kind"] == "box":
                filled["box"] = _lerp(first["box"], last["box"], t)
            else:
                filled["points"] = [
                    _lerp(p, q, t) for p, q in zip(first["points"], last["points"], strict=True)
                ]
            objects = [o for o in frames[i]["objects"] if o["id"] != object_id]
            frames[i]["objects"] = [*objects, filled]
    return result


def set_object_attribute(
    draft: dict[str, Any], object_id: str, name: str, value: str
) -> dict[str, Any]:
    """Set an attribute of an object on every frame it appears in."""
    result = copy.deepcopy(draft)
    for frame in result["frames"]:
        for obj in frame["objects"]:
            if obj["id"] == object_id:
                obj.setdefault("attributes", {})[name] = value
    return result


# --- checks ------------------------------------------------------------------------------


def _attribute_problems(
    where: str, values: dict[str, Any], declared: list[dict[str, Any]]
) -> list[str]:
    problems = []
    by_name = {a.get("name"): a for a in declared}
    for name, value in values.items():
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(str(n) for n in by_name) or "none"
            problems.append(f"{where}: unknown attribute '{name}' (this config has: {known})")
            continue
        if value in (None, ""):
            continue
        enum = spec.get("enum")
        if enum and str(value) not in [str(e) for e in enum]:
            problems.append(
                f"{where}: attribute '{name}' is '{value}', which is not one of "
                f"{', '.join(str(e) for e in enum)}"
            )
        if spec.get("type") == "number":
            try:
                number = float(value)
            except (TypeError, ValueError):
                problems.append(f"{where}: attribute '{name}' must be a number, not '{value}'")
                continue
            low, high = spec.get("minValue"), spec.get("maxValue")
            if (low is not None and number < float(low)) or (
                high is not None and number > float(high)
            ):
                problems.append(f"{where}: attribute '{name}' is {value}, outside {low}..{high}")
    return problems


def validate(
    draft: Any, config: dict[str, Any], width: int, height: int, audit: bool = False
) -> list[str]:
    """Every problem of the draft, each naming its frame and object; empty when it is good."""
    if not isinstance(draft, dict) or not isinstance(draft.get("frames"), list):
        return ['the labels are not a draft: expected {"frames": [...]}']
    kind = formats.annotation_type(config)
    labels = {label["label"]: label for label in config["labels"]}
    problems: list[str] = []
    names: dict[str, str] = {}
    for number, frame in enumerate(draft["frames"], start=1):
        where_frame = f"frame {number}"
        problems += _attribute_problems(
            where_frame, frame.get("attributes") or {}, config.get("frameAttributes") or []
        )
        seen: set[str] = set()
        for obj in frame.get("objects") or []:
            name = str(obj.get("name") or obj.get("id"))
            where = f"{where_frame}, {name}"
            if not obj.get("id"):
                problems.append(f"{where}: the object has no id")
                continue
            if obj["id"] in seen:
                problems.append(f"{where}: object id {obj['id']} is on this frame twice")
            seen.add(obj["id"])
            if names.setdefault(obj["id"], name) != name:
                problems.append(
                    f"{where}: object id {obj['id']} is named '{names[obj['id']]}' on an "
                    "earlier frame; an object keeps its name across frames"
                )
            label = labels.get(obj.get("label"))
            if label is None:
                problems.append(
                    f"{where}: label '{obj.get('label')}' is not in the label category "
                    f"config ({', '.join(labels)})"
                )
                continue
            if obj.get("kind") != kind:
                problems.append(
                    f"{where}: a {obj.get('kind')} in a job that labels {kind}es"
                    if kind == "box"
                    else f"{where}: a {obj.get('kind')} in a job that labels {kind}s"
                )
                continue
            problems += _shape_problems(where, obj, width, height)
            attributes = obj.get("attributes") or {}
            problems += _attribute_problems(where, attributes, label.get("attributes") or [])
            if audit and attributes.get(AUDIT_ATTRIBUTE) not in ("Pass", "Fail"):
                problems.append(f"{where}: mark the object Pass or Fail (attribute 'audit')")
    return problems


def _shape_problems(where: str, obj: dict[str, Any], width: int, height: int) -> list[str]:
    if obj["kind"] == "box":
        box = obj.get("box")
        if not isinstance(box, list | tuple) or len(box) != 4:
            return [f"{where}: a box needs [left, top, width, height]"]
        try:
            left, top, w, h = (float(v) for v in box)
        except (TypeError, ValueError):
            return [f"{where}: the box {box} is not four numbers"]
        if not all(math.isfinite(v) for v in (left, top, w, h)):
            return [f"{where}: the box {box} is not four finite numbers"]
        if w <= 0 or h <= 0:
            return [f"{where}: the box has a negative or zero size ({w:g} x {h:g})"]
        if width and height and (left < 0 or top < 0 or left + w > width or top + h > height):
            return [
                f"{where}: the box ({left:g}, {top:g}, {w:g} x {h:g}) reaches outside the "
                f"{width} x {height} image"
            ]
        return []
    points = obj.get("points")
    if not isinstance(points, list):
        return [f"{where}: a {obj['kind']} needs a list of vertices"]
    need = MIN_VERTICES[obj["kind"]]
    if len(points) < need:
        return [
            f"{where}: a {obj['kind']} needs at least {need} vertices, this one has {len(points)}"
        ]
    for point in points:
        try:
            x, y = (float(v) for v in point)
        except (TypeError, ValueError):
            return [f"{where}: the vertex {point} is not an [x, y] pair"]
        if width and height and not (0 <= x <= width and 0 <= y <= height):
            return [f"{where}: the vertex ({x:g}, {y:g}) is outside the {width} x {height} image"]
    return []


def check(draft: Any, config: dict[str, Any], width: int, height: int, audit: bool = False) -> None:
    problems = validate(draft, config, width, height, audit)
    if problems:
        raise DraftError(problems)


# --- audits --------------------------------------------------------------------------------


def _comparable(draft: dict[str, Any]) -> list[Any]:
    """What an audit may change, without its verdicts and keyframe marks."""
    frames = []
    for frame in draft["frames"]:
        objects = []
        for obj in sorted(frame["objects"], key=lambda o: str(o["id"])):
            attributes = {
                k: str(v) for k, v in (obj.get("attributes") or {}).items() if k != AUDIT_ATTRIBUTE
            }
            geometry = (
                [round(float(v)) for v in obj["box"]]
                if obj["kind"] == "box"
                else [[round(float(x)), round(float(y))] for x, y in obj.get("points") or []]
            )
            objects.append((str(obj["id"]), obj["label"], obj["kind"], geometry, attributes))
        attributes = {k: str(v) for k, v in (frame.get("attributes") or {}).items()}
        frames.append((objects, attributes))
    return frames


def adjusted(original: dict[str, Any], draft: dict[str, Any]) -> bool:
    """True when the auditor moved, added, deleted or relabeled anything (verdicts aside)."""
    return _comparable(original) != _comparable(draft)
