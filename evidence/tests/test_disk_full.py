"""The disk full during an upload: the apprentice is told in words, and nothing is left half-saved.

Two disks: a storage whose writes stop part-way with ENOSPC, as a full disk's do (always run), and
a real 1 MB tmpfs filled up (run where the tests may mount one: as root, which CI is).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from evidence.services import STORAGE_FULL
from evidence.tests.factories import evidence
from evidence.tests.samples import upload

# As the page shows it: the apostrophe is escaped in HTML.
STORAGE_FULL_HTML = STORAGE_FULL.replace("'", "&#x27;")


class DiskFillsUpStorage(FileSystemStorage):
    """Local storage on a disk that fills up half-way through every write."""

    def _save(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        content.seek(0)
        data = content.read()
        path.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _use_storage(settings, backend: str, location: Path) -> None:
    settings.MEDIA_ROOT = location
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": backend, "OPTIONS": {"location": location}}}


def _form(st0220, **files) -> dict:
    k24 = st0220.ksbs.get(kind="K", number=24)
    return {
        "title": "Safeguarding referral",
        "activity_date": "2025-11-10",
        "evidence_type": "witness_testimony",
        "reflection": "I recognised the signs and followed the trust's procedure.",
        f"ksb_{k24.pk}": "on",
        f"note_{k24.pk}": "Made a referral with my supervisor",
        "save": "",
        **files,
    }


def _nothing_saved() -> bool:
    return not any(m.objects.exists() for m in (EvidenceItem, EvidenceVersion, EvidenceFile, KSBMapping))


def test_a_disk_that_fills_up_during_an_upload_gives_a_clear_message_and_saves_nothing(
    client, apprenticeship, apprentice, st0220, settings, tmp_path
):
    media = tmp_path / "full-disk"
    _use_storage(settings, f"{__name__}.DiskFillsUpStorage", media)
    client.force_login(apprentice)
    response = client.post("/evidence/new/", _form(st0220, files=[upload("referral.pdf"), upload("ward.jpg")]))
    assert response.status_code == 200
    body = response.content.decode()
    assert STORAGE_FULL_HTML in body
    assert 'value="Safeguarding referral"' in body  # what they typed is still in the form
    assert _nothing_saved()
    assert _files_under(media) == []  # the half-written file went with the rest


def test_a_full_disk_while_editing_a_draft_leaves_the_draft_as_it_was(
    client, apprenticeship, apprentice, st0220, settings, tmp_path
):
    draft = evidence(apprenticeship, title="Half-written reflection", files=("notes.txt",))
    media = Path(settings.MEDIA_ROOT)
    before = _files_under(media)
    _use_storage(settings, f"{__name__}.DiskFillsUpStorage", media)
    client.force_login(apprentice)
    data = _form(st0220, title="A new title", files=[upload("referral.pdf")])
    response = client.post(f"/evidence/{draft.pk}/edit/", data)
    assert STORAGE_FULL_HTML in response.content.decode()
    version = draft.versions.get()
    assert version.title == "Half-written reflection"
    assert [f.original_name for f in version.files.all()] == ["notes.txt"]
    assert EvidenceFile.objects.count() == 1
    assert _files_under(media) == before


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), mounted for the test and unmounted after it."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a 1 MB tmpfs needs root (CI runs as root)")
    folder = tmp_path / "tiny-disk"
    folder.mkdir()
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"this machine does not let the tests mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run([umount, str(folder)]).returncode != 0:
            subprocess.run([umount, "-l", str(folder)])


def test_a_really_full_filesystem_gives_the_same_message_and_leaves_nothing_behind(
    client, apprenticeship, apprentice, st0220, settings, tiny_disk
):
    _use_storage(settings, "django.core.files.storage.FileSystemStorage", tiny_disk)
    # Fill the disk until less than the upload is left.
    (tiny_disk / "filler").write_bytes(b"\0" * (700 * 1024))
    free_before = os.statvfs(tiny_disk).f_bavail
    notes = upload("long-notes.txt", content=b"What I did on the ward today, and what I learned.\n" * 12_000)
    assert notes.size > 500 * 1024
    client.force_login(apprentice)
    response = client.post("/evidence/new/", _form(st0220, files=[notes]))
    assert response.status_code == 200
    assert STORAGE_FULL_HTML in response.content.decode()
    assert _nothing_saved()
    assert _files_under(tiny_disk) == ["filler"]
    assert os.statvfs(tiny_disk).f_bavail == free_before  # the part written was deleted
