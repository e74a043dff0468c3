"""A Hugging Face model as an ONNX file for onnxruntime: exported once per sweep, with
the batch and sequence axes dynamic, and quantized to int8 weights (onnxruntime's own
dynamic quantization, a scale per channel) for precision int8."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from labellake.workflows.benchmarks.measure import BenchError


def export(path: str, precision: str, folder: Path) -> str:
    """The ONNX file of the model in ``path`` for ``precision`` (fp32 or int8), made in
    ``folder`` the first time it is asked for."""
    target = folder / f"model-{precision}.onnx"
    if target.is_file():
        return str(target)
    fp32 = folder / "model-fp32.onnx"
    if not fp32.is_file():
        _export_fp32(path, fp32)
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _quiet():
            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
    elif precision != "fp32":
        raise BenchError(f"{precision} under onnxruntime: measured are fp32 and int8")
    return str(target)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's and the quantizer's progress lines and advice, kept off the
    terminal (they print, warn and log)."""
    root, onnx_log = logging.getLogger(), logging.getLogger("torch.onnx")
    levels = root.level, onnx_log.level
    root.setLevel(logging.ERROR)
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(levels[0])
        onnx_log.setLevel(levels[1])


def _export_fp32(path: str, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    inputs = dict(tokenizer(["an example sentence"] * 2, return_tensors="pt"))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    try:
        with _quiet():
            torch.onnx.export(
                model,
                (),
                str(target),
                kwargs=inputs,
                input_names=list(inputs),
                output_names=["last_hidden_state"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs},
                dynamo=True,
            )
    except Exception as exc:  # the exporter raises many kinds; name the model and the cause
        raise BenchError(f"exporting {path} to ONNX failed: {type(exc).__name__}: {exc}") from exc
