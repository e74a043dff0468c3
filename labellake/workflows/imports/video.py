"""Your own videos -> JPEG frames at a stride, sequence files and an input manifest.

This is the reference's "frame splitting and manifest generation". Decoding
uses PyAV, whose wheel ships its own FFmpeg libraries; no system ffmpeg is
needed.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import av

from labellake.errors import LabellakeError
from labellake.lake import ObjectStore
from labellake.workflows.labeling import formats

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v")


@dataclass(frozen=True)
class ImportedVideos:
    manifest_uri: str
    clips: tuple[str, ...]


def split_video(
    objects: ObjectStore, path: Path, dataset: str, stride: int = 1, max_frames: int | None = None
) -> str:
    """Every ``stride``-th frame of one video as JPEG; returns the sequence file URI."""
    if stride < 1:
        raise LabellakeError("--stride must be at least 1")
    if not path.is_file():
        raise LabellakeError(f"video {path} does not exist")
    name = path.stem
    frame_names: list[str] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise LabellakeError(f"{path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                buffer = io.BytesIO()
                frame.to_image().save(buffer, format="JPEG", quality=90)
                frame_name = f"{len(frame_names) + 1:06d}.jpg"
                objects.write_bytes(f"{dataset}/{name}/img1/{frame_name}", buffer.getvalue())
                frame_names.append(frame_name)
                if max_frames is not None and len(frame_names) >= max_frames:
                    break
    except (av.error.FFmpegError, av.error.InvalidDataError, OSError, ValueError) as exc:
        raise LabellakeError(f"cannot decode video {path}: {exc}") from exc
    if not frame_names:
        raise LabellakeError(f"video {path} has no frames")
    prefix = objects.uri(f"{dataset}/{name}/img1") + "/"
    return objects.write_text(
        f"{dataset}/{name}_seq.json", json.dumps(formats.sequence_document(prefix, frame_names))
    )


def import_videos(
    objects: ObjectStore,
    paths: list[Path],
    dataset: str,
    stride: int = 1,
    max_frames: int | None = None,
) -> ImportedVideos:
    """Videos (files, or folders of them) into one dataset with one input manifest."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        else:
            files.append(path)
    if not files:
        raise LabellakeError(
            f"no video found in {', '.join(map(str, paths))} "
            f"(looked for {', '.join(VIDEO_SUFFIXES)})"
        )
    clips = tuple(split_video(objects, f, dataset, stride, max_frames) for f in files)
    manifest_uri = objects.write_text(
        f"{dataset}/clips.manifest", formats.manifest_text([{"source-ref": c} for c in clips])
    )
    return ImportedVideos(manifest_uri, clips)


def encode_frames(frames: list[bytes], out: Path, rate: int) -> tuple[int, int]:
    """JPEG (or PNG) frames -> an H.264 MP4 that browsers start playing before it is all
    loaded (its index first), one video frame per image at ``rate`` frames per second,
    written to the file ``out``; returns the (width, height) of the first frame. Frames
    of another size are scaled to it."""
    from PIL import Image

    if not frames:
        raise LabellakeError("a clip without frames cannot become a video")
    with Image.open(io.BytesIO(frames[0])) as first:
        size = first.size
    # H.264 in yuv420p needs even dimensions.
    width, height = size[0] + size[0] % 2, size[1] + size[1] % 2
    with av.open(str(out), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(rate)}
        for data in frames:
            with Image.open(io.BytesIO(data)) as image:
                picture = image.convert("RGB")
                if picture.size != (width, height):
                    picture = picture.resize((width, height))
                for packet in stream.encode(av.VideoFrame.from_image(picture)):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return size
