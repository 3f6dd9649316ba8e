"""A tiny character-level language model: order-k character transition counts."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

ORDER = 3


def fit(text: str, order: int = ORDER) -> dict[str, dict[str, int]]:
    """Count which character follows each context of `order` characters."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    padded = "\n" * order + text
    for index in range(order, len(padded)):
        counts[padded[index - order : index]][padded[index]] += 1
    return {context: dict(following) for context, following in counts.items()}


def save(model: dict[str, dict[str, int]], path: Path, order: int = ORDER) -> None:
    path.write_text(json.dumps({"order": order, "counts": model}))


def load(path: Path) -> tuple[int, dict[str, dict[str, int]]]:
    data = json.loads(path.read_text())
    return int(data["order"]), data["counts"]


def generate(model: dict[str, dict[str, int]], order: int, prompt: str, length: int, seed: int):
    """Yield characters one at a time, continuing `prompt`."""
    rng = random.Random(seed)
    context = ("\n" * order + prompt)[-order:]
    for _ in range(length):
        following = model.get(context)
        if not following:
            context = "\n" * order
            following = model.get(context, {" ": 1})
        characters, weights = zip(*sorted(following.items()))
        character = rng.choices(characters, weights)[0]
        yield character
        context = (context + character)[-order:]
