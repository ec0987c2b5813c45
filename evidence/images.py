"""Print copies of uploaded images: small enough to draw in a portfolio PDF, with no metadata.

A PDF embeds a JPEG byte for byte, so a dozen 12-megapixel phone photos would make a PDF of
hundreds of megabytes, and their EXIF would carry the GPS position of wherever they were taken.
The PDF therefore never draws an original: it draws a copy made once per image, at most
2,000 px on its longest side (about 300 dpi across an A4 page), re-encoded from the pixels
alone, so EXIF, GPS, XMP and comments are all left behind. The original stays untouched in
storage; its SHA-256 is what sign-offs record.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db.models import Q
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .models import EvidenceFile

log = logging.getLogger(__name__)

# Longest side of a print copy: ~300 dpi over the 170 mm an A4 page gives an image.
PRINT_MAX_SIDE = 2000
JPEG_QUALITY = 85
# Charts and screenshots (PNG, GIF) stay lossless, so thin lines and text stay sharp, unless that
# makes them heavier than this; a photo saved as PNG then becomes a JPEG like any other.
LOSSLESS_LIMIT = 1024 * 1024

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class PrintCopy:
    data: bytes
    content_type: str  # image/jpeg or image/png
    width: int
    height: int

    @property
    def suffix(self) -> str:
        return ".png" if self.content_type == "image/png" else ".jpg"


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _in_srgb(image: Image.Image) -> Image.Image:
    """Pixels in sRGB, the PDF's output intent: a Display P3 or CMYK photo keeps its colours."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode) or image
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile is not worth losing the image over: the colours are near enough.
        return image


def render_print_copy(data: bytes) -> PrintCopy | None:
    """The print copy of an image's bytes, or None when Pillow cannot read it (e.g. HEIC)."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            # A JPEG decodes straight at 1/2, 1/4 or 1/8 scale when that still leaves 2,000 px on its
            # longest side: several times faster, and a fraction of the memory of 12 megapixels.
            ratio = PRINT_MAX_SIDE / max(source.size)
            if ratio < 1:
                source.draft("RGB", (math.ceil(source.width * ratio), math.ceil(source.height * ratio)))
            source.seek(0)  # the first frame of an animated GIF or WebP
            lossless = source.format in ("PNG", "GIF")
            image = ImageOps.exif_transpose(source)  # a phone photo taken sideways stands upright
            image = _in_srgb(image)
            alpha = _has_alpha(image)
            image = image.convert("RGBA" if alpha else "RGB")
            image.thumbnail((PRINT_MAX_SIDE, PRINT_MAX_SIDE), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        log.info("No print copy: the image cannot be read (%s).", error)
        return None

    # Saved from the pixels only: no exif=, icc_profile= or pnginfo=, so no metadata travels.
    if alpha or lossless:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        if alpha or buffer.tell() <= LOSSLESS_LIMIT:
            return PrintCopy(buffer.getvalue(), "image/png", *image.size)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return PrintCopy(buffer.getvalue(), "image/jpeg", *image.size)


def print_copy_of(stored: EvidenceFile) -> PrintCopy | None:
    """A print copy made in memory from the stored original, without saving it."""
    if not stored.is_image:
        return None
    with stored.file.open("rb") as handle:
        data = handle.read()
    return render_print_copy(data)


def make_print_copy(stored: EvidenceFile) -> None:
    """Makes and saves the print copy of an uploaded image, once.

    Does nothing for a file that is not an image, one that already has a print copy, or one
    Pillow cannot read (HEIC among them): the PDF then lists it as a file instead of drawing it.
    Two runs at once are harmless: the row is only updated while it has no copy, and the loser
    deletes the file it wrote.
    """
    if stored.print_copy or not stored.is_image:
        return
    copy = print_copy_of(stored)  # a storage error propagates, so the task is retried
    if copy is None:
        return
    name = stored.print_copy.storage.save(
        stored.print_copy.field.generate_filename(stored, f"print{copy.suffix}"), ContentFile(copy.data)
    )
    without_copy = Q(print_copy__isnull=True) | Q(print_copy="")
    if EvidenceFile.objects.filter(without_copy, pk=stored.pk).update(print_copy=name):
        stored.print_copy = name
    else:
        stored.print_copy.storage.delete(name)
        stored.refresh_from_db(fields=["print_copy"])
