"""Squaring images as the paper feeds them: pad with the encoder's mean colour, crop the centre,
or leave the squashing resize to the encoder (the behaviour, and the keys, of before)."""

from __future__ import annotations

from PIL import Image

from harness.data.aspect import mean_colour, squared, with_aspect

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)


def wide() -> Image.Image:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.putpixel((0, 0), (0, 0, 255))  # marks the left edge
    return image


def test_pad_centres_the_image_on_the_mean_colour() -> None:
    fill = mean_colour(OPENAI_MEAN)
    assert fill == (123, 117, 104)  # LLaVA-1.5's background for CLIP
    padded = squared(wide(), "pad", fill)
    assert padded.size == (40, 40)
    assert padded.getpixel((0, 0)) == fill and padded.getpixel((0, 39)) == fill
    assert padded.getpixel((0, 10)) == (0, 0, 255) and padded.getpixel((20, 20)) == (255, 0, 0)


def test_crop_keeps_the_centre_and_resize_leaves_the_image() -> None:
    cropped = squared(wide(), "crop", (0, 0, 0))
    assert cropped.size == (20, 20) and cropped.getpixel((0, 0)) == (255, 0, 0)
    image = wide()
    assert squared(image, "resize", (0, 0, 0)) is image
    seen = []
    assert with_aspect(seen.append, "resize", (0, 0, 0)) == seen.append
    with_aspect(seen.append, "pad", (0, 0, 0))(image)
    assert seen[0].size == (40, 40)
