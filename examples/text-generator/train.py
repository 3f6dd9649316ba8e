"""Train the character model on a text file; the output is the weights file."""

from charmodel import fit, save

from cog import Input, Path


def train(
    text: Path = Input(description="A UTF-8 text file to learn from"),
    order: int = Input(description="Characters of context", default=3, ge=1, le=8),
) -> Path:
    corpus = text.read_text(encoding="utf-8")
    model = fit(corpus, order)
    print(f"learned {len(model)} contexts from {len(corpus)} characters")
    weights = Path("/tmp/char-model.json")
    save(model, weights, order)
    return weights
