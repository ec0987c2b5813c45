"""Print copies: every uploaded image gets one small, upright, metadata-free copy, once."""

import datetime
import functools
import io
from pathlib import Path

from PIL import ExifTags, Image

from evidence import services
from evidence.images import PRINT_MAX_SIDE, make_print_copy, render_print_copy
from evidence.models import EvidenceFile, EvidenceItem
from evidence.tasks import make_print_copy_task
from evidence.tests.samples import upload

GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (51.0, 30.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0),
}


@functools.cache
def phone_photo(width: int = 4000, height: int = 3000, *, orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: big, noisy, with the camera's make and the GPS position in its EXIF."""
    noise = Image.effect_noise((width, height), 40)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", [gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    image = Image.new(mode, (width, height), (0, 94, 184, 128) if mode == "RGBA" else (0, 94, 184))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stored_upload(apprenticeship, name: str, content: bytes | None = None) -> EvidenceFile:
    item = services.create_evidence(
        apprenticeship=apprenticeship,
        by=apprenticeship.apprentice,
        title="Setting up the phlebotomy trolley",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.OBSERVATION,
        uploads=[upload(name, content=content)],
    )
    return EvidenceFile.objects.get(versions__item=item)


def opened(field) -> Image.Image:
    with field.open("rb") as handle:
        return Image.open(io.BytesIO(handle.read()))


def print_files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "evidence" / "print"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_phone_photo_gets_a_small_upright_copy_without_exif_or_gps(apprenticeship):
    original = phone_photo(orientation=6)  # taken with the phone on its side
    stored = stored_upload(apprenticeship, "ward-round.jpg", original)

    make_print_copy(stored)

    stored.refresh_from_db()
    copy = opened(stored.print_copy)
    assert copy.format == "JPEG"
    assert max(copy.size) <= PRINT_MAX_SIDE
    assert copy.size == (1500, 2000), "the EXIF orientation is applied, so the copy stands upright"
    assert not copy.getexif(), "no EXIF at all: no camera, no orientation, no GPS"
    assert "exif" not in copy.info and "xmp" not in copy.info
    assert stored.print_copy.size < len(original) / 4
    # The original is untouched: sign-offs rely on its hash.
    with stored.file.open("rb") as handle:
        assert handle.read() == original


def test_an_upload_queues_the_print_copy_once_committed(apprenticeship, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        photo = stored_upload(apprenticeship, "trolley.jpg", phone_photo(2400, 1800))
        document = stored_upload(apprenticeship, "sop.pdf")
    assert len(callbacks) == 1, "only images are queued"
    photo.refresh_from_db()
    document.refresh_from_db()
    assert photo.print_copy and max(opened(photo.print_copy).size) == PRINT_MAX_SIDE
    assert not document.print_copy


def test_making_a_print_copy_again_changes_nothing(apprenticeship, settings):
    stored = stored_upload(apprenticeship, "trolley.jpg", phone_photo(2400, 1800))
    make_print_copy(stored)
    name = stored.print_copy.name
    make_print_copy(stored)
    make_print_copy_task.delay(stored.pk)
    stored.refresh_from_db()
    assert stored.print_copy.name == name
    assert len(print_files(settings)) == 1


def test_two_runs_at_once_leave_one_copy(apprenticeship, settings):
    stored = stored_upload(apprenticeship, "trolley.jpg", phone_photo(2400, 1800))
    first, second = EvidenceFile.objects.get(pk=stored.pk), EvidenceFile.objects.get(pk=stored.pk)
    make_print_copy(first)
    make_print_copy(second)  # read before the first saved: it makes a copy, then finds it lost the race
    assert second.print_copy.name == first.print_copy.name
    assert [p.name for p in print_files(settings)] == [Path(first.print_copy.name).name]


def test_a_small_image_is_re_encoded_but_not_enlarged(apprenticeship):
    stored = stored_upload(apprenticeship, "chart.png", png(600, 400))
    make_print_copy(stored)
    copy = opened(stored.print_copy)
    assert copy.size == (600, 400)
    assert copy.format == "PNG", "a chart stays lossless, so its lines and labels stay sharp"


def test_transparency_is_kept_as_png(apprenticeship):
    stored = stored_upload(apprenticeship, "logo.png", png(3000, 1000, "RGBA"))
    make_print_copy(stored)
    copy = opened(stored.print_copy)
    assert copy.format == "PNG" and copy.mode == "RGBA"
    assert copy.size == (2000, 667)


def test_heic_and_unreadable_images_are_left_without_a_copy(apprenticeship, settings):
    heic = stored_upload(apprenticeship, "photo.heic")
    broken = stored_upload(apprenticeship, "broken.jpg")  # a JPEG header with no picture
    assert broken.is_image
    for stored in (heic, broken):
        make_print_copy(stored)
        stored.refresh_from_db()
        assert not stored.print_copy
    assert print_files(settings) == []
    assert render_print_copy(b"not an image at all") is None


def test_the_task_skips_a_file_deleted_meanwhile(db):
    make_print_copy_task.delay(987654)  # no error: a deleted draft's file has nothing to copy
