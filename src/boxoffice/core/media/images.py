"""Checking and re-encoding uploaded images with Pillow.

Nothing a client uploads is stored as sent: the bytes are sniffed (the file name and the
declared type are ignored), refused past a size or pixel limit (a decompression bomb is a
small file with an enormous canvas), decoded, stripped of metadata and written anew as WebP in
two sizes. A file that is not a supported image, or fails to decode, is refused.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

from boxoffice.core.errors import BoxofficeError, FieldError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
VARIANTS = {"full": 2000, "thumb": 400}


class ImageRejected(BoxofficeError):
    slug = "image-rejected"
    status = 422
    title = "The file is not an image we can use"


class TooLarge(BoxofficeError):
    slug = "too-large"
    status = 413
    title = "The upload is too large"


class Rendition(msgspec.Struct, frozen=True):
    name: str
    data: bytes
    width: int
    height: int


class ProcessedImage(msgspec.Struct, frozen=True):
    digest: str  # of the upload, for stable keys
    source_format: str
    width: int
    height: int
    renditions: list[Rendition]


def process_image(data: bytes) -> ProcessedImage:
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"images may be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
            errors=[FieldError("file", "too large")],
        )
    if not data:
        raise ImageRejected("the file is empty", errors=[FieldError("file", "empty")])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            source_format = str(probe.format)
            width, height = probe.size
            if source_format not in ACCEPTED_FORMATS:
                raise ImageRejected(
                    f"{source_format} images are not accepted; use JPEG, PNG, WebP or GIF",
                    errors=[FieldError("file", "unsupported")],
                )
            if width * height > MAX_PIXELS:
                raise ImageRejected(
                    f"{width} x {height} pixels is too many (at most {MAX_PIXELS:,})",
                    errors=[FieldError("file", "too many pixels")],
                )
            probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except ImageRejected:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        raise ImageRejected(
            "the file is not a readable image", errors=[FieldError("file", "not an image")]
        ) from error
    upright: Image.Image = ImageOps.exif_transpose(image)
    upright = upright.convert("RGBA" if "A" in upright.getbands() or upright.mode == "P" else "RGB")
    renditions = []
    for name, longest in VARIANTS.items():
        copy = upright.copy()
        copy.thumbnail((longest, longest))
        out = io.BytesIO()
        copy.save(out, format="WEBP", quality=85, method=4)  # no metadata is carried over
        renditions.append(
            Rendition(name=name, data=out.getvalue(), width=copy.width, height=copy.height)
        )
    return ProcessedImage(
        digest=hashlib.sha256(data).hexdigest()[:20],
        source_format=source_format,
        width=upright.width,
        height=upright.height,
        renditions=renditions,
    )
