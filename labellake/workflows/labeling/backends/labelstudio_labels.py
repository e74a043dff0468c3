"""Ground Truth's label category config and labels <-> Label Studio's labeling config and
results, for the labelstudio backend.

The labeling config made from a label category config:

- a video job (VideoObjectTracking, VideoObjectDetection and their audits) with boxes is
  ``<Video>`` + ``<VideoRectangle>`` + ``<Labels>``; Label Studio labels nothing else on
  video, so polylines, polygons and keypoints on video are refused (``unsupported``);
- a single-image job (BoundingBox) is ``<Image>`` + ``<RectangleLabels>``; the image
  controls for polygons and keypoints (``PolygonLabels``, ``KeyPointLabels``) are made
  the same way for configs that ask for them;
- every per-object attribute is a per-region control: ``Choices`` for an enum, ``Number``
  for a number, ``TextArea`` for free text, shown for the labels that have it
  (``whenLabelValue``); an audit's Pass/Fail (the ``audit`` attribute that chaining adds)
  is one of them and is required;
- every frame attribute is a task-level control: one value for the whole clip, written on
  each of its frames (Label Studio has no per-frame classification on video);
- the instructions are shown above the media (``Header``) and as the project's
  instructions.

Coordinates: Label Studio keeps boxes in percent of the frame, videos as keyframes
numbered from 1 that are interpolated while enabled (the same rules as the Label Studio
export reader, ``etl.formats.labelstudio.expand``); Ground Truth keeps pixels on frames
numbered from 0.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from labellake.etl.formats.labelstudio import Keyframe, expand, pixel_box
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.spec import VIDEO_MODALITIES, base_modality

MEDIA = "media"  # the object tag's name, and the task data key it reads
LABELS = "label"  # the labels control
VIDEO_REGION = "box"  # the VideoRectangle control
AUDIT = "audit"
FRAME_RATE = 10  # the frame rate of the videos made from frame sequences
IMAGE_CONTROLS = {
    "box": "RectangleLabels",
    "polygon": "PolygonLabels",
    "keypoint": "KeyPointLabels",
}


def unsupported(modality: str, annotation_type: str) -> str | None:
    """Why Label Studio cannot run a job of this modality and annotation type, or None."""
    base = base_modality(modality)
    if base in VIDEO_MODALITIES:
        if annotation_type != "box":
            return (
                f"Label Studio labels only rectangles on video (VideoRectangle); {modality} "
                f"jobs of {annotation_type}s cannot run there"
            )
        return None
    if base == "BoundingBox":
        if annotation_type != "box":
            return f"{modality} jobs label boxes; this config asks for {annotation_type}s"
        return None
    return f"Label Studio has no labeling interface for {modality}"


@dataclass(frozen=True)
class Control:
    """One attribute of the label category config as a Label Studio control."""

    name: str  # the control's name in the labeling config
    attribute: str  # the attribute's name in Ground Truth
    kind: str  # choices, number, textarea
    per_region: bool
    labels: tuple[str, ...] = ()  # shown for these labels only (empty: all)
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False


def _control_name(prefix: str, *parts: str) -> str:
    return prefix + "_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_") for p in parts)


def _control(
    attribute: dict[str, Any], name: str, per_region: bool, labels: tuple[str, ...]
) -> Control:
    options = tuple(str(v) for v in attribute.get("enum") or ())
    kind = "choices" if options else "number" if attribute.get("type") == "number" else "textarea"
    return Control(
        name=name,
        attribute=str(attribute["name"]),
        kind=kind,
        per_region=per_region,
        labels=labels,
        options=options,
        minimum=attribute.get("minValue"),
        maximum=attribute.get("maxValue"),
        required=attribute["name"] == AUDIT,
    )


def controls(config: dict[str, Any]) -> list[Control]:
    """The config's attributes as controls: per-object ones first, then frame ones."""
    labels = [str(label["label"]) for label in config["labels"]]
    owners: dict[str, list[str]] = {}
    first: dict[str, dict[str, Any]] = {}
    for label in config["labels"]:
        for attribute in label.get("attributes") or []:
            owners.setdefault(str(attribute["name"]), []).append(str(label["label"]))
            first.setdefault(str(attribute["name"]), attribute)
    for attribute in config.get("categoryGlobalAttributes") or []:
        owners[str(attribute["name"])] = labels
        first.setdefault(str(attribute["name"]), attribute)
    result = []
    for name, owned_by in owners.items():
        if set(owned_by) == set(labels):
            control_name = AUDIT if name == AUDIT else _control_name("attr", name)
            result.append(_control(first[name], control_name, True, ()))
            continue
        for label in owned_by:  # whenLabelValue names one label
            result.append(_control(first[name], _control_name("attr", label, name), True, (label,)))
    for attribute in config.get("frameAttributes") or []:
        result.append(_control(attribute, _control_name("frame", attribute["name"]), False, ()))
    taken: set[str] = set()
    unique = []
    for control in result:  # names that collide after cleaning get a number
        name, number = control.name, 2
        while name in taken:
            name, number = f"{control.name}_{number}", number + 1
        taken.add(name)
        unique.append(dataclasses.replace(control, name=name))
    return unique


def labeling_config(config: dict[str, Any], modality: str) -> str:
    """The Label Studio labeling config (XML) for a job of this label category config."""
    kind = formats.annotation_type(config)
    video = base_modality(modality) in VIDEO_MODALITIES
    instructions = (config.get("instructions") or {}).get("shortInstruction") or ""
    lines = ["<View>"]
    if instructions:
        lines.append(f"  <Header value={quoteattr(instructions)}/>")
    labels = "".join(
        f"<Label value={quoteattr(str(label['label']))}/>" for label in config["labels"]
    )
    if video:
        lines.append(f'  <Video name="{MEDIA}" value="${MEDIA}" framerate="{FRAME_RATE}"/>')
        lines.append(f'  <VideoRectangle name="{VIDEO_REGION}" toName="{MEDIA}"/>')
        lines.append(f'  <Labels name="{LABELS}" toName="{MEDIA}">{labels}</Labels>')
    else:
        tag = IMAGE_CONTROLS.get(kind, "RectangleLabels")
        lines.append(f'  <Image name="{MEDIA}" value="${MEDIA}"/>')
        lines.append(f'  <{tag} name="{LABELS}" toName="{MEDIA}">{labels}</{tag}>')
    for control in controls(config):
        lines.append("  " + _control_xml(control))
    lines.append("</View>")
    return "\n".join(lines)


def _control_xml(control: Control) -> str:
    attrs = f'name="{control.name}" toName="{MEDIA}"'
    if control.per_region:
        attrs += ' perRegion="true"'
    if control.labels:
        attrs += f" whenLabelValue={quoteattr(control.labels[0])}"
    if control.required:
        attrs += ' required="true"'
    header = f"<Header value={quoteattr(control.attribute)}/>"
    if control.kind == "choices":
        options = "".join(f"<Choice value={quoteattr(o)}/>" for o in control.options)
        return f'{header}<Choices {attrs} choice="single">{options}</Choices>'
    if control.kind == "number":
        for key, value in (("min", control.minimum), ("max", control.maximum)):
            if value is not None:
                attrs += f' {key}="{value}"'
        return f"{header}<Number {attrs}/>"
    return f'{header}<TextArea {attrs} maxSubmissions="1"/>'


# --- labels out: Ground Truth frames -> Label Studio regions (an audit's predictions) ----


def _percent(box: tuple[float, float, float, float], size: tuple[int, int]) -> dict[str, float]:
    left, top, width, height = box
    return {
        "x": 100.0 * left / size[0],
        "y": 100.0 * top / size[1],
        "width": 100.0 * width / size[0],
        "height": 100.0 * height / size[1],
    }


def _control_result(control: Control, value: str, region: str | None) -> dict[str, Any] | None:
    """One attribute value as the result of its control (on ``region``, or the task's)."""
    if value in ("", None):
        return None
    if control.kind == "choices":
        content: dict[str, Any] = {"choices": [str(value)]}
    elif control.kind == "number":
        try:
            content = {"number": float(value)}
        except ValueError:
            return None
    else:
        content = {"text": [str(value)]}
    result: dict[str, Any] = {"from_name": control.name, "to_name": MEDIA, "type": control.kind}
    if region is not None:
        result["id"] = region
    return {**result, "value": content}


def _attribute_results(
    region: str, label: str, attributes: dict[str, str], config: dict[str, Any]
) -> list[dict[str, Any]]:
    """A region's attributes as the results of the per-region controls shown for its label."""
    by_attribute = {
        c.attribute: c
        for c in controls(config)
        if c.per_region and c.name != AUDIT and (not c.labels or label in c.labels)
    }
    results = [
        _control_result(by_attribute[name], value, region)
        for name, value in attributes.items()
        if name in by_attribute
    ]
    return [r for r in results if r is not None]


def video_regions(
    frames: list[formats.FrameLabels],
    config: dict[str, Any],
    size: tuple[int, int],
    frames_count: int,
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """A clip's boxes as video rectangles: every frame an object is on is a keyframe,
    enabled while the object is on the next frame too; its attributes are the region's.
    Also returns region id -> [object id, object name]."""
    names = formats.class_map(config)
    tracks: dict[str, list[tuple[int, formats.Shape]]] = {}
    for frame in frames:
        for shape in frame.shapes:
            if shape.kind == "box" and shape.box is not None:
                tracks.setdefault(shape.object_id, []).append((frame.frame_no, shape))
    results: list[dict[str, Any]] = []
    known: dict[str, list[str]] = {}
    for number, (object_id, seen) in enumerate(tracks.items()):
        region = _region_id(object_id, number)
        seen.sort(key=lambda item: item[0])
        on = {frame_no for frame_no, _ in seen}
        sequence = [
            {
                "frame": frame_no + 1,
                "enabled": frame_no + 1 in on,
                "rotation": 0,
                "time": frame_no / FRAME_RATE,
                **_percent(shape.box, size),  # type: ignore[arg-type]
            }
            for frame_no, shape in seen
        ]
        first = seen[0][1]
        label = names.get(str(first.class_id), str(first.class_id))
        known[region] = [object_id, first.object_name]
        results.append(
            {
                "id": region,
                "from_name": VIDEO_REGION,
                "to_name": MEDIA,
                "type": "videorectangle",
                "origin": "prediction",
                "value": {
                    "framesCount": frames_count,
                    "duration": frames_count / FRAME_RATE,
                    "sequence": sequence,
                    "labels": [label],
                },
            }
        )
        results += _attribute_results(region, label, first.attributes, config)
    results += _frame_attribute_results(clip_attributes(frames), config)
    return results, known


def clip_attributes(frames: list[formats.FrameLabels]) -> dict[str, str]:
    """The frame attributes of a clip as one task-level value each: the first frame's that
    has any (Label Studio holds one value per clip)."""
    return next((dict(f.attributes) for f in frames if f.attributes), {})


def _frame_attribute_results(
    attributes: dict[str, str], config: dict[str, Any]
) -> list[dict[str, Any]]:
    """A clip's frame attributes as the results of the task-level controls."""
    by_attribute = {c.attribute: c for c in controls(config) if not c.per_region}
    results = [
        _control_result(by_attribute[name], value, None)
        for name, value in attributes.items()
        if name in by_attribute
    ]
    return [r for r in results if r is not None]


def _region_id(object_id: str, number: int) -> str:
    """Label Studio's region ids are short; a Ground Truth object id becomes one."""
    clean = re.sub(r"[^A-Za-z0-9]", "", object_id)
    return (clean[:10] or "r") + f"_{number}"


# --- labels in: Label Studio regions -> Ground Truth frames ---------------------------------


@dataclass
class Converted:
    """One annotation as Ground Truth frames, with the regions it could not convert."""

    frames: list[formats.FrameLabels]
    skipped: list[str]  # one line per region left out, saying why


def _region_values(
    results: list[dict[str, Any]], by_name: dict[str, Control]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, str]], dict[str, str]]:
    """Shapes by region id, per-region attribute values, task-level attribute values."""
    shapes: dict[str, list[dict[str, Any]]] = {}
    region_attributes: dict[str, dict[str, str]] = {}
    task_attributes: dict[str, str] = {}
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
            continue
        control = by_name.get(str(result.get("from_name")))
        if control is None:
            shapes.setdefault(str(result.get("id")), []).append(result)
            continue
        value = result["value"]
        if control.kind == "choices":
            chosen = value.get("choices") or []
            text = str(chosen[0]) if chosen else ""
        elif control.kind == "number":
            number = value.get("number")
            text = (
                ""
                if number is None
                else f"{number:g}"
                if isinstance(number, float)
                else str(number)
            )
        else:
            texts = value.get("text") or []
            text = "\n".join(str(t) for t in texts) if isinstance(texts, list) else str(texts)
        if control.per_region and result.get("id"):
            region_attributes.setdefault(str(result["id"]), {})[control.attribute] = text
        else:
            task_attributes[control.attribute] = text
    return shapes, region_attributes, task_attributes


def video_frames(
    results: list[dict[str, Any]],
    config: dict[str, Any],
    frame_names: list[str],
    size: tuple[int, int],
    known: dict[str, list[str]] | None = None,
) -> Converted:
    """An annotation of a clip as SeqLabel frames (numbered from 0, pixels). ``known``:
    region id -> [object id, object name] of the regions labellake put in as predictions,
    so an audited object keeps its Ground Truth id and name."""
    by_name = {c.name: c for c in controls(config)}
    class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
    shapes, region_attributes, task_attributes = _region_values(results, by_name)
    frames = [
        formats.FrameLabels(frame_no=i, frame=name, attributes=dict(task_attributes))
        for i, name in enumerate(frame_names)
    ]
    skipped: list[str] = []
    counters: dict[str, int] = {}
    for region, items in shapes.items():
        for result in items:
            kind = str(result.get("type", "")).lower()
            value = result["value"]
            if kind != "videorectangle":
                skipped.append(f"region {region}: a {kind or 'result'} is not a video box")
                continue
            label = _label_of(value, region, class_ids, skipped)
            if label is None:
                continue
            keys = [
                Keyframe(
                    int(item["frame"]),
                    bool(item.get("enabled", True)),
                    float(item["x"]),
                    float(item["y"]),
                    float(item["width"]),
                    float(item["height"]),
                )
                for item in value.get("sequence") or []
                if isinstance(item, dict)
                and all(k in item for k in ("frame", "x", "y", "width", "height"))
            ]
            if not keys:
                skipped.append(f"region {region}: a video box without keyframes")
                continue
            counters[label] = counters.get(label, 0) + 1
            object_id, name = (known or {}).get(region) or (region, f"{label}:{counters[label]}")
            attributes = dict(region_attributes.get(region, {}))
            for key, _ in expand(keys, len(frame_names)):
                index = key.frame - 1
                if not 0 <= index < len(frames):
                    continue
                box = pixel_box(key.x, key.y, key.width, key.height, size)
                frames[index].shapes.append(
                    formats.Shape(object_id, name, class_ids[label], "box", box, None, attributes)
                )
    return Converted(frames, skipped)


def _label_of(
    value: dict[str, Any], region: str, class_ids: dict[str, int], skipped: list[str]
) -> str | None:
    labels = value.get("labels") or value.get("rectanglelabels") or []
    if not labels:
        skipped.append(f"region {region}: no label chosen")
        return None
    label = str(labels[0])
    if label not in class_ids:
        skipped.append(f"region {region}: label '{label}' is not in the label category config")
        return None
    return label


def image_answer(
    results: list[dict[str, Any]], config: dict[str, Any], size: tuple[int, int]
) -> tuple[dict[str, Any], list[str]]:
    """An annotation of one image as Ground Truth's object-detection answer."""
    by_name = {c.name: c for c in controls(config)}
    class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
    shapes, _, _ = _region_values(results, by_name)
    skipped: list[str] = []
    boxes = []
    for region, items in shapes.items():
        for result in items:
            value = result["value"]
            if str(result.get("type", "")).lower() not in ("rectanglelabels", "rectangle"):
                skipped.append(f"region {region}: a {result.get('type')} is not a box")
                continue
            label = _label_of(value, region, class_ids, skipped)
            if label is None:
                continue
            width = int(result.get("original_width") or size[0])
            height = int(result.get("original_height") or size[1])
            left, top, w, h = pixel_box(
                float(value["x"]),
                float(value["y"]),
                float(value["width"]),
                float(value["height"]),
                (width, height),
            )
            boxes.append(
                {
                    "class_id": class_ids[label],
                    "left": round(left),
                    "top": round(top),
                    "width": round(w),
                    "height": round(h),
                }
            )
    answer = {
        "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
        "annotations": boxes,
    }
    return answer, skipped


def comparable(frames: list[formats.FrameLabels]) -> list[Any]:
    """Frames as SeqLabel writes them, without the audit's verdicts: equal when an auditor
    changed no shape, label or attribute."""
    document = formats.seqlabel_document(frames, tracking=True)["tracking-annotations"]
    for entry in document:
        for key in formats.SEQLABEL_KEYS.values():
            items = entry.get(key) or []
            for item in items:
                item["label-category-attributes"].pop(AUDIT, None)
            items.sort(key=lambda item: item["object-id"])
    return document
