"""How a non-square image becomes the encoder's square input: ``resize`` squashes it (what
every run did before this option existed), ``pad`` pads it to a square with the encoder's mean
colour first (LLaVA-1.5 and Cambrian-1 feed images this way), ``crop`` keeps the centre
square."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

from PIL import Image

ImageAspect = Literal["resize", "pad", "crop"]
IMAGE_ASPECTS: tuple[str, ...] = get_args(ImageAspect)
DEFAULT_ASPECT = "resize"


def squared(image: Image.Image, aspect: str, fill: tuple[int, int, int]) -> Image.Image:
    """``image`` made square as ``aspect`` says (``resize`` leaves that to the encoder)."""
    width, height = image.size
    if aspect == "resize" or width == height:
        return image
    side = max(width, height) if aspect == "pad" else min(width, height)
    if aspect == "pad":
        canvas = Image.new(image.mode, (side, side), fill if image.mode == "RGB" else 0)
        canvas.paste(image, ((side - width) // 2, (side - height) // 2))
        return canvas
    if aspect == "crop":
        left, top = (width - side) // 2, (height - side) // 2
        return image.crop((left, top, left + side, top + side))
    raise ValueError(f"unknown image aspect {aspect!r}; valid: {', '.join(IMAGE_ASPECTS)}")


def mean_colour(mean: Sequence[float]) -> tuple[int, int, int]:
    """The encoder's normalisation mean as an RGB colour (what ``pad`` fills with)."""
    r, g, b = (int(round(255 * m)) for m in mean)
    return r, g, b


def with_aspect(transform: Callable[[Image.Image], Any], aspect: str,
                fill: tuple[int, int, int]) -> Callable[[Image.Image], Any]:
    """``transform`` preceded by making the image square; ``resize`` is ``transform``."""
    if aspect == DEFAULT_ASPECT:
        return transform

    def square_then(image: Image.Image) -> Any:
        return transform(squared(image, aspect, fill))

    return square_then
