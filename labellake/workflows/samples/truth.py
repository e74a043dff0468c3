"""Ground truth beside a clip: what the simulated workforce labels from.

A sequence file ``<clip>_seq.json`` may have a sidecar ``<clip>_gt.json`` with
the true vehicle boxes and lane polylines per frame; a single image
``<name>.jpg`` may have ``<name>_gt.json``. Clips without one are labeled as
empty by the simulated workforce.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TruthObject:
    track_id: str
    label: str
    kind: str  # "box" or "polyline"
    box: tuple[float, float, float, float] | None = None  # left, top, width, height
    vertices: list[tuple[float, float]] | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class TruthFrame:
    frame: str
    objects: list[TruthObject] = field(default_factory=list)


@dataclass
class ClipTruth:
    width: int
    height: int
    frames: list[TruthFrame]

    def to_json(self) -> str:
        return json.dumps(
            {
                "image_size": {"width": self.width, "height": self.height},
                "frames": [
                    {
                        "frame": f.frame,
                        "objects": [
                            {
                                "id": o.track_id,
                                "label": o.label,
                                "kind": o.kind,
                                **({"box": [round(v, 2) for v in o.box]} if o.box else {}),
                                **(
                                    {
                                        "vertices": [
                                            [round(x, 2), round(y, 2)] for x, y in o.vertices
                                        ]
                                    }
                                    if o.vertices
                                    else {}
                                ),
                                "attributes": o.attributes,
                            }
                            for o in f.objects
                        ],
                    }
                    for f in self.frames
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ClipTruth:
        raw: dict[str, Any] = json.loads(text)
        frames = []
        for frame in raw["frames"]:
            objects = []
            for o in frame["objects"]:
                objects.append(
                    TruthObject(
                        track_id=str(o["id"]),
                        label=o["label"],
                        kind=o["kind"],
                        box=tuple(o["box"]) if o.get("box") else None,  # type: ignore[arg-type]
                        vertices=[(x, y) for x, y in o["vertices"]] if o.get("vertices") else None,
                        attributes=dict(o.get("attributes", {})),
                    )
                )
            frames.append(TruthFrame(frame=frame["frame"], objects=objects))
        size = raw.get("image_size", {})
        return cls(
            width=int(size.get("width", 0)), height=int(size.get("height", 0)), frames=frames
        )


def truth_uri(source_ref: str) -> str:
    """Where the ground truth of a data object lives: beside it, named ``*_gt.json``."""
    folder, name = posixpath.split(source_ref)
    stem = name.removesuffix("_seq.json") if name.endswith("_seq.json") else name.rsplit(".", 1)[0]
    return posixpath.join(folder, f"{stem}_gt.json")
