"""What a precision or runtime costs in accuracy: the sentence embeddings it gives for
the same 1,000 sentences, against fp32 eager PyTorch.

An embedding is the model's last hidden state averaged over the sentence's tokens (the
padding left out) and scaled to length 1, as sentence-transformers does for
all-MiniLM-L6-v2. Per sentence the figure is the cosine of the two embeddings; a
configuration reports the mean and the worst. Below a mean of 0.99 it is marked
(``Accuracy.ok`` false), never left out.

The sentences are generated here (labeling-operations prose of 4 to about 40 words, the same
every time), so nothing is downloaded. They are cut at the run's sequence length and
run in batches of 25 padded to that length, so a compiled model sees one shape.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SENTENCES = 1000
BATCH = 25
FLOOR = 0.99

_SUBJECTS = (
    "the annotator",
    "the second-level auditor",
    "our labeling vendor",
    "the quality check",
    "the night shift",
    "the expert team",
    "a new worker",
    "the consensus job",
    "the tracking model",
    "the operations lead",
)
_VERBS = (
    "labeled",
    "rejected",
    "adjusted",
    "missed",
    "merged",
    "split",
    "reviewed",
    "flagged",
    "corrected",
    "approved",
)
_OBJECTS = (
    "every pedestrian in the crowded intersection",
    "the lane polylines on the wet highway",
    "two trucks that were parked behind the bus",
    "the cyclist who crossed in front of the camera",
    "a traffic light hidden by the trees",
    "the bounding boxes of the distant cars",
    "the track of a motorcycle that left the frame",
    "the paragraph about the delayed shipment",
    "the occluded van at the edge of the image",
    "the dashed line that faded in the tunnel",
)
_TAILS = (
    "before the batch was closed",
    "although the frames were blurred by rain",
    "and the audit found no further errors",
    "which cost the team another hour of review",
    "so the gold clip scored much better this week",
    "but the customer still asked for a second pass",
    "after the reviewers disagreed about the class",
    "while the budget for audits was nearly spent",
    "because the guidelines changed on Monday",
    "and nobody noticed until the model was retrained",
)


def sentences(count: int = SENTENCES, seed: int = 7) -> list[str]:
    """``count`` sentences of labeling-operations prose, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
        parts += rng.sample(_TAILS, rng.randint(0, 3))
        text = " ".join(parts)
        if rng.random() < 0.15:
            text = " ".join(text.split()[: rng.randint(4, 8)])
        out.append(text[0].upper() + text[1:] + ".")
    return out


@dataclass(frozen=True)
class Accuracy:
    mean: float
    worst: float
    sentences: int

    @property
    def ok(self) -> bool:
        return self.mean >= FLOOR


def embeddings(
    run: Callable[[dict[str, Any]], Any], tokenizer: Any, texts: list[str], seq_len: int
) -> np.ndarray:
    """Mean-pooled, unit-length embeddings of ``texts`` from ``run`` (inputs -> last
    hidden state, a torch tensor or a numpy array), in batches of ``BATCH``."""
    out = []
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        batch += [batch[-1]] * (BATCH - len(batch))  # one shape for every call
        inputs = tokenizer(
            batch,
            padding="max_length",
            truncation=True,
            max_length=seq_len,
            return_tensors="pt",
        )
        hidden = run(inputs)
        if not isinstance(hidden, np.ndarray):
            hidden = hidden.float().cpu().numpy()
        mask = inputs["attention_mask"].numpy()[:, :, None].astype(np.float32)
        pooled = (hidden.astype(np.float32) * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
        out.append(pooled[: len(texts) - start])
    found = np.concatenate(out)
    return found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)


def compare(reference: np.ndarray, found: np.ndarray) -> Accuracy:
    """Cosine of each pair of unit-length embeddings: their mean and the worst."""
    cosines = (reference * found).sum(axis=1)
    return Accuracy(float(cosines.mean()), float(cosines.min()), len(cosines))
