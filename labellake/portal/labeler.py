"""The labeling canvas: a small bidirectional Streamlit component (HTML canvas + JS).

The browser draws, selects, moves, resizes and deletes shapes, steps through
frames and sends the whole draft back after each change, with the action that
caused it. Everything else (copying a frame forward, interpolation, attribute
propagation, the checks and the conversion to Ground Truth's files) happens in
Python (workflows/labeling/drafts.py), which hands a new draft back by
raising ``revision``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

_COMPONENT = components.declare_component(
    "labeler", path=str(Path(__file__).parent / "components" / "labeler")
)


def data_url(image: bytes) -> str:
    kind = "png" if image[:8] == b"\x89PNG\r\n\x1a\n" else "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(image).decode("ascii")


def labeler(
    *,
    frames: list[str],
    width: int,
    height: int,
    config: dict[str, Any],
    kind: str,
    draft: dict[str, Any],
    revision: int,
    audit: bool,
    key: str,
) -> dict[str, Any] | None:
    """Show the canvas; returns the browser's last message ({seq, action, frame, selected,
    draft, ...}) or None before the first one."""
    return _COMPONENT(
        frames=frames,
        width=width,
        height=height,
        config=config,
        kind=kind,
        draft=draft,
        revision=revision,
        audit=audit,
        max_width=900,
        key=key,
        default=None,
    )
