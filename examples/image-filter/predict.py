"""Apply a filter to an image with Pillow: file input, file output."""

from PIL import Image, ImageFilter, ImageOps

from cog import BasePredictor, Input, Path

FILTERS = {
    "grayscale": ImageOps.grayscale,
    "blur": lambda image: image.filter(ImageFilter.GaussianBlur(4)),
    "edges": lambda image: image.convert("L").filter(ImageFilter.FIND_EDGES),
    "invert": lambda image: ImageOps.invert(image.convert("RGB")),
}


class Predictor(BasePredictor):
    def predict(
        self,
        image: Path = Input(description="The image to filter"),
        filter: str = Input(description="Which filter", default="grayscale", choices=list(FILTERS)),
        width: int = Input(
            description="Resize to this width (0 keeps it)", default=0, ge=0, le=4096
        ),
    ) -> Path:
        with Image.open(image) as source:
            result = FILTERS[filter](source)
            if width:
                result = result.resize((width, max(1, round(result.height * width / result.width))))
            output = Path("/tmp/filtered.png")
            result.save(output)
        return output
