"""An apprentice's portfolio: evidence items, their numbered versions, files and KSB mappings.

An item's content lives in its versions. The newest version is the one being worked on; a
version is frozen the moment it is submitted (`submitted_at` set) and never changes again.
Revising after feedback, or withdrawing a submission, starts a new draft version copied from
the last one, so every version anyone has seen stays readable as it was.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.urls import reverse

from portal.models import Apprenticeship, User
from standards.models import KSB


class IllegalTransition(ValidationError):
    """A status change the workflow does not allow from the item's current status."""


class EvidenceItemQuerySet(models.QuerySet["EvidenceItem"]):
    def visible_to(self, user: User) -> EvidenceItemQuerySet:
        """The one rule for who may see an evidence item.

        The apprentice sees all of their own items. Everyone else who may see the
        apprenticeship (assessor, mentor, provider admin, IQA) sees only items that have been
        submitted at least once: a draft is the apprentice's own until they submit it.
        """
        apprenticeships = Apprenticeship.objects.visible_to(user)
        items = self.filter(apprenticeship__in=apprenticeships)
        if user.is_authenticated and not user.is_superuser:
            items = items.filter(
                Q(apprenticeship__apprentice=user)
                | Q(Exists(EvidenceVersion.objects.filter(item=OuterRef("pk"), submitted_at__isnull=False)))
            )
        return items

    def editable_by(self, user: User) -> EvidenceItemQuerySet:
        """Only the apprentice writes their own portfolio."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(apprenticeship__apprentice=user)

    def with_versions(self) -> EvidenceItemQuerySet:
        """Every version with its files and KSB mappings, in a fixed number of queries."""
        return self.select_related("apprenticeship__standard", "apprenticeship__apprentice").prefetch_related(
            Prefetch(
                "versions",
                queryset=EvidenceVersion.objects.order_by("number").prefetch_related(
                    Prefetch("mappings", queryset=KSBMapping.objects.select_related("ksb")),
                    Prefetch("files", queryset=EvidenceFile.objects.order_by("uploaded_at", "pk")),
                ),
            )
        )


class EvidenceItem(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned"

    class Type(models.TextChoices):
        OBSERVATION = "observation", "Observation"
        WITNESS_TESTIMONY = "witness_testimony", "Witness testimony"
        REFLECTIVE_ACCOUNT = "reflective_account", "Reflective account"
        WORK_PRODUCT = "work_product", "Work product"
        PROFESSIONAL_DISCUSSION = "professional_discussion", "Professional discussion record"
        CERTIFICATE = "certificate", "Certificate"
        OTHER = "other", "Other"

    # Which statuses each transition may start from.
    TRANSITIONS = {
        "submit": (Status.DRAFT,),
        "withdraw": (Status.SUBMITTED,),
        "accept": (Status.SUBMITTED,),
        "return": (Status.SUBMITTED,),
        "revise": (Status.RETURNED,),
    }

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="evidence_items")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EvidenceItemQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "submitted", "accepted", "returned"]),
                name="evidence_item_status_valid",
            )
        ]

    def __str__(self) -> str:
        current = self.current_version
        return current.title if current else f"Evidence {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("evidence:detail", args=[self.pk])

    @property
    def current_version(self) -> EvidenceVersion | None:
        """The newest version (from the prefetch when there is one)."""
        versions = list(self.versions.all())
        if not versions:
            return None
        return max(versions, key=lambda v: v.number)

    @property
    def submitted_versions(self) -> list[EvidenceVersion]:
        return [v for v in sorted(self.versions.all(), key=lambda v: v.number) if v.is_frozen]

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def can(self, transition: str) -> bool:
        return self.status in self.TRANSITIONS[transition]

    def _move(self, transition: str, to: str) -> None:
        if not self.can(transition):
            allowed = " or ".join(self.Status(s).label.lower() for s in self.TRANSITIONS[transition])
            raise IllegalTransition(
                f"Cannot {transition} evidence that is {self.get_status_display().lower()}; it must be {allowed}."
            )
        self.status = to

    # The transitions. Services call these inside a transaction and do the rest of the work
    # (freezing or copying versions, recording decisions).
    def submit(self) -> None:
        self._move("submit", self.Status.SUBMITTED)

    def withdraw(self) -> None:
        self._move("withdraw", self.Status.DRAFT)

    def accept(self) -> None:
        self._move("accept", self.Status.ACCEPTED)

    def return_for_revision(self) -> None:
        self._move("return", self.Status.RETURNED)

    def revise(self) -> None:
        self._move("revise", self.Status.DRAFT)


def evidence_upload_to(instance: EvidenceFile, filename: str) -> str:
    # A random name: the original name is only ever shown, never used on disk.
    return f"evidence/{uuid.uuid4().hex}"


def print_copy_upload_to(instance: EvidenceFile, filename: str) -> str:
    # Random too; only the suffix (.jpg or .png) is kept, so the copy's type is known from its name.
    return f"evidence/print/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class EvidenceFileQuerySet(models.QuerySet["EvidenceFile"]):
    def visible_to(self, user: User) -> EvidenceFileQuerySet:
        """A file is visible to whoever may see a version it belongs to."""
        visible_items = EvidenceItem.objects.visible_to(user)
        if user.is_authenticated and not user.is_superuser:
            # Others than the apprentice see only files of submitted versions.
            versions = EvidenceVersion.objects.filter(item__in=visible_items).filter(
                Q(item__apprenticeship__apprentice=user) | Q(submitted_at__isnull=False)
            )
        else:
            versions = EvidenceVersion.objects.filter(item__in=visible_items)
        return self.filter(Exists(versions.filter(files=OuterRef("pk"))))


class EvidenceFile(models.Model):
    """An uploaded file. Shared by the versions that include it, so revising copies no bytes."""

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="evidence_files")
    file = models.FileField(upload_to=evidence_upload_to, max_length=200)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, help_text="Detected from the content, not the name.")
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # A JPEG phone photo goes into a PDF byte for byte, so the portfolio PDF draws this copy instead:
    # at most 2,000 px on its longest side, re-encoded, with no EXIF or GPS. Made by a task after upload.
    print_copy = models.FileField(
        upload_to=print_copy_upload_to,
        max_length=200,
        null=True,
        blank=True,
        help_text="The image downscaled for print, without its metadata.",
    )
    # Set when the apprentice's personal data was erased: the bytes are gone from storage, while the
    # row keeps the size and SHA-256 that sign-offs and funding audits refer to.
    erased_at = models.DateTimeField(null=True, blank=True)

    class ScanStatus(models.TextChoices):
        PENDING = "pending", "Being checked for viruses"
        CLEAN = "clean", "Checked for viruses: clean"
        INFECTED = "infected", "Removed: a virus was found"
        # Scanning is off (CLAMAV_ADDRESS empty), or the file was uploaded before it was turned on.
        NOT_SCANNED = "not_scanned", "Not scanned"

    # With virus scanning on, an upload is held as pending until clamd has answered: nobody may
    # download it, rely on it for a sign-off or put it into a PDF before then.
    scan_status = models.CharField(max_length=12, choices=ScanStatus.choices, default=ScanStatus.NOT_SCANNED)
    scanned_at = models.DateTimeField(null=True, blank=True)
    # The name of what clamd found in an infected file, e.g. Win.Test.EICAR_HDB-1.
    scan_signature = models.CharField(max_length=200, blank=True)

    objects = EvidenceFileQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="evidence_file_not_empty"),
            models.CheckConstraint(
                condition=Q(scan_status__in=["pending", "clean", "infected", "not_scanned"]),
                name="evidence_file_scan_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("evidence:file", args=[self.pk])

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/") and self.content_type != "image/heic"

    @property
    def is_previewable(self) -> bool:
        """Browsers show these safely inline; everything else is only ever a download."""
        return self.is_available and (self.is_image or self.content_type == "application/pdf")

    @property
    def is_available(self) -> bool:
        """Whether the bytes may be read, previewed, relied on or printed: not held for, or removed by, a scan."""
        return self.scan_status in (self.ScanStatus.CLEAN, self.ScanStatus.NOT_SCANNED)

    @property
    def is_scan_pending(self) -> bool:
        return self.scan_status == self.ScanStatus.PENDING

    @property
    def is_infected(self) -> bool:
        return self.scan_status == self.ScanStatus.INFECTED

    @property
    def extension(self) -> str:
        return PurePath(self.original_name).suffix.lower()


class EvidenceVersion(models.Model):
    item = models.ForeignKey(EvidenceItem, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    activity_date = models.DateField("date of the activity")
    evidence_type = models.CharField(max_length=30, choices=EvidenceItem.Type.choices)
    reflection = models.TextField(blank=True)
    files = models.ManyToManyField(EvidenceFile, related_name="versions", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item", "number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="evidence_version_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="evidence_version_number_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"

    def get_absolute_url(self) -> str:
        return reverse("evidence:version", args=[self.item_id, self.number])

    @property
    def is_frozen(self) -> bool:
        return self.submitted_at is not None

    @property
    def sorted_mappings(self) -> list[KSBMapping]:
        """Mappings in the standard's order (K, S, B), from the prefetch."""
        order = {"K": 0, "S": 1, "B": 2}
        return sorted(self.mappings.all(), key=lambda m: (order[m.ksb.kind], m.ksb.number))


class KSBMapping(models.Model):
    """A claim that a version of an item shows a KSB, with the apprentice's note of how."""

    version = models.ForeignKey(EvidenceVersion, on_delete=models.CASCADE, related_name="mappings")
    ksb = models.ForeignKey(KSB, on_delete=models.PROTECT, related_name="evidence_mappings")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "ksb"], name="ksb_mapping_unique_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.ksb.code} ← {self.version}"


class OTJActivityQuerySet(models.QuerySet["OTJActivity"]):
    def visible_to(self, user: User) -> OTJActivityQuerySet:
        """Whoever may see the apprenticeship may see its off-the-job log."""
        return self.filter(apprenticeship__in=Apprenticeship.objects.visible_to(user))

    def counted(self) -> OTJActivityQuerySet:
        """Entries that count towards the hours logged: everything but those queried by the assessor."""
        return self.exclude(status=OTJActivity.Status.QUERIED)


class OTJActivity(models.Model):
    """An off-the-job training activity: learning in paid hours, away from normal work duties.

    Logged by the apprentice, or by their mentor or assessor on their behalf; the assessor then
    verifies it, or queries it with a reason. A queried entry can be corrected and goes back to
    waiting for verification; a verified one no longer changes.
    """

    class Type(models.TextChoices):
        TEACHING = "teaching", "Teaching of theory"
        SHADOWING = "shadowing", "Shadowing"
        SIMULATION = "simulation", "Simulation exercise"
        INDUSTRY_VISIT = "industry_visit", "Industry visit"
        WRITING = "writing", "Writing assignments"
        ONLINE = "online", "Online learning"
        MENTORING = "mentoring", "Mentoring"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        LOGGED = "logged", "Awaiting verification"
        VERIFIED = "verified", "Verified"
        QUERIED = "queried", "Queried"

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="otj_activities")
    date = models.DateField()
    minutes = models.PositiveIntegerField(help_text="How long the activity took, in minutes.")
    activity_type = models.CharField(max_length=20, choices=Type.choices)
    description = models.TextField()
    ksbs = models.ManyToManyField(KSB, blank=True, related_name="otj_activities")
    evidence = models.ForeignKey(
        EvidenceItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="otj_activities"
    )
    logged_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    logged_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LOGGED)
    query_reason = models.TextField(blank=True)
    checked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)

    objects = OTJActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-pk"]
        verbose_name = "off-the-job activity"
        verbose_name_plural = "off-the-job activities"
        indexes = [models.Index(fields=["apprenticeship", "date"])]
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="otj_activity_takes_time"),
            models.CheckConstraint(
                condition=Q(status__in=["logged", "verified", "queried"]), name="otj_activity_status_valid"
            ),
            models.CheckConstraint(condition=~Q(status="queried") | ~Q(query_reason=""), name="otj_query_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_activity_type_display()} on {self.date:%d %b %Y} ({self.hours} h)"

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.01"))

    @property
    def is_editable(self) -> bool:
        return self.status != self.Status.VERIFIED
