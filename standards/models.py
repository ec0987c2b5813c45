"""The catalogue: apprenticeship standards, their KSBs, duties, options and aligned qualifications.

A `Standard` row is one *version* of a published standard (ST0220 1.0 and ST0220 1.1 are two
rows), because apprentices are enrolled on a version and its KSB texts are what they evidence.
"""

from django.db import models
from django.db.models import Case, Q, Value, When
from django.urls import reverse


class StandardManager(models.Manager["Standard"]):
    def get_by_natural_key(self, reference: str, version: str) -> "Standard":
        return self.get(reference=reference, version=version)


class Standard(models.Model):
    reference = models.CharField(max_length=10, help_text="Institute reference, e.g. ST0220.")
    version = models.CharField(max_length=10, help_text="Published version, e.g. 1.0.")
    lars_code = models.PositiveIntegerField(
        null=True, blank=True, help_text="LARS code used by the funding rules and the standards API."
    )
    title = models.CharField(max_length=255)
    level = models.PositiveSmallIntegerField()
    route = models.CharField(max_length=100, blank=True)
    date_updated = models.DateField(null=True, blank=True)
    regulated = models.BooleanField(default=False, help_text="Regulated occupation.")
    typical_duration_months = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=50, blank=True, help_text="e.g. Approved for delivery, Retired.")
    max_funding = models.PositiveIntegerField(null=True, blank=True, help_text="Funding band maximum, in pounds.")
    approved_for_delivery = models.DateField(null=True, blank=True)
    earliest_start_date = models.DateField(null=True, blank=True)
    latest_start_date = models.DateField(null=True, blank=True)
    latest_end_date = models.DateField(null=True, blank=True)
    standard_page_url = models.URLField(max_length=500, blank=True)
    # Published per standard for starts from 1 August 2025; the standards API does not carry it,
    # so a provider admin enters it.
    minimum_otj_hours = models.PositiveIntegerField(
        "minimum off-the-job hours",
        null=True,
        blank=True,
        help_text="Minimum off-the-job training hours published for this version (starts from 1 Aug 2025).",
    )
    assessment_plan_url = models.URLField(max_length=500, blank=True)

    objects = StandardManager()

    class Meta:
        ordering = ["reference", "version"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "version"], name="standard_reference_version_unique"),
            models.CheckConstraint(condition=Q(level__gte=2, level__lte=7), name="standard_level_2_to_7"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("standards:detail", args=[self.reference, self.version])

    def natural_key(self) -> tuple[str, str]:
        return (self.reference, self.version)

    @property
    def version_key(self) -> tuple[int, ...]:
        """'1.10' sorts after '1.9': versions compare by their numbers, not as text."""
        return version_key(self.version)

    def other_versions(self) -> list["Standard"]:
        """The other versions of the same standard, oldest first."""
        others = Standard.objects.filter(reference=self.reference).exclude(pk=self.pk)
        return sorted(others, key=lambda s: s.version_key)


def version_key(version: str) -> tuple[int, ...]:
    parts = version.split(".")
    return tuple(int(p) if p.isdigit() else -1 for p in parts)


KIND_ORDER = Case(When(kind="K", then=Value(0)), When(kind="S", then=Value(1)), default=Value(2))


class KSBQuerySet(models.QuerySet["KSB"]):
    def search(self, text: str) -> "KSBQuerySet":
        """A code ('s18') finds that KSB; anything else matches words in the statement."""
        text = text.strip()
        if not text:
            return self
        code = KSB.parse_code(text)
        if code:
            return self.filter(kind=code[0], number=code[1])
        return self.filter(text__icontains=text)


class KSBManager(models.Manager.from_queryset(KSBQuerySet)):  # type: ignore[misc]
    def get_by_natural_key(self, reference: str, version: str, kind: str, number: int) -> "KSB":
        return self.get(standard__reference=reference, standard__version=version, kind=kind, number=number)


# The largest number a KSB's `number` column (a positive small integer) holds on every database.
KSB_MAX_NUMBER = 32767


class KSB(models.Model):
    """One knowledge, skill or behaviour statement of a standard version."""

    class Kind(models.TextChoices):
        KNOWLEDGE = "K", "Knowledge"
        SKILL = "S", "Skill"
        BEHAVIOUR = "B", "Behaviour"

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="ksbs")
    kind = models.CharField(max_length=1, choices=Kind.choices)
    number = models.PositiveSmallIntegerField(help_text="Position within its kind: 3 for K3.")
    text = models.TextField()
    external_id = models.UUIDField(
        null=True, blank=True, help_text="The statement's identifier in the public standards API."
    )

    objects = KSBManager()

    class Meta:
        verbose_name = "KSB"
        verbose_name_plural = "KSBs"
        # K1..Kn, then S1..Sn, then B1..Bn: the order the standard publishes them in.
        ordering = ["standard_id", KIND_ORDER, "number"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "kind", "number"], name="ksb_code_unique_per_standard"),
            models.UniqueConstraint(fields=["standard", "external_id"], name="ksb_external_id_unique_per_standard"),
            models.CheckConstraint(condition=Q(number__gte=1), name="ksb_number_from_one"),
            models.CheckConstraint(condition=Q(kind__in=["K", "S", "B"]), name="ksb_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"

    @property
    def code(self) -> str:
        """The code assessors cite, e.g. K1 or S18."""
        return f"{self.kind}{self.number}"

    @staticmethod
    def parse_code(text: str) -> tuple[str, int] | None:
        """('K', 12) for 'k12' or 'K12'; None when the text is not a KSB code."""
        text = text.strip().upper()
        digits = text[1:]
        # ASCII digits only ("K²" passes isdigit() but not int()), and no number beyond what the
        # column holds, which the database would refuse with an error rather than find nothing.
        if len(text) >= 2 and text[0] in "KSB" and digits.isascii() and digits.isdigit():
            number = int(digits)
            if 0 < number <= KSB_MAX_NUMBER:
                return text[0], number
        return None

    def natural_key(self) -> tuple[str, str, str, int]:
        return (*self.standard.natural_key(), self.kind, self.number)

    natural_key.dependencies = ["standards.standard"]


class QualificationManager(models.Manager["AlignedQualification"]):
    def get_by_natural_key(self, title: str, awarding_body: str) -> "AlignedQualification":
        return self.get(title=title, awarding_body=awarding_body)


class AlignedQualification(models.Model):
    """A qualification (e.g. an HTQ) approved as aligned to one or more standards."""

    title = models.CharField(max_length=255)
    qualification_type = models.CharField(max_length=50, blank=True, help_text="e.g. HTQ")
    level = models.PositiveSmallIntegerField()
    applicant = models.CharField(max_length=255, blank=True)
    awarding_body = models.CharField(max_length=255)
    approval_date = models.DateField(null=True, blank=True)
    occupational_pathway = models.CharField(max_length=255, blank=True)
    placement = models.BooleanField(default=False)
    standards = models.ManyToManyField(Standard, related_name="aligned_qualifications")

    objects = QualificationManager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["title", "awarding_body"], name="qualification_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.awarding_body}, level {self.level})"

    def natural_key(self) -> tuple[str, str]:
        return (self.title, self.awarding_body)


class StandardOption(models.Model):
    """An option (specialism) of a standard with core and options, e.g. 'Microbiology'."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="options")
    number = models.PositiveSmallIntegerField(help_text="Position in the published list.")
    title = models.CharField(max_length=255)
    external_id = models.UUIDField(
        null=True, blank=True, help_text="The option's identifier in the public standards API."
    )

    class Meta:
        ordering = ["standard_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "number"], name="option_number_unique_per_standard"),
            models.UniqueConstraint(fields=["standard", "external_id"], name="option_external_id_unique_per_standard"),
        ]

    def __str__(self) -> str:
        return self.title


class DutyManager(models.Manager["Duty"]):
    def get_by_natural_key(self, reference: str, version: str, number: int) -> "Duty":
        return self.get(standard__reference=reference, standard__version=version, number=number)


class Duty(models.Model):
    """A duty of the occupation, and the KSBs the standard says it calls on.

    Newer standards map each duty to KSBs; older ones publish duties without a mapping, or none.
    """

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="duties")
    number = models.PositiveSmallIntegerField(help_text="Position in the published list: 3 for Duty 3.")
    text = models.TextField()
    is_core = models.BooleanField(default=True, help_text="Core duties apply whatever the option.")
    criteria = models.TextField(blank=True, help_text="Criteria for measuring performance.")
    external_id = models.UUIDField(
        null=True, blank=True, help_text="The duty's identifier in the public standards API."
    )
    ksbs = models.ManyToManyField(KSB, related_name="duties", blank=True)
    options = models.ManyToManyField(StandardOption, related_name="duties", blank=True)

    objects = DutyManager()

    class Meta:
        verbose_name_plural = "duties"
        ordering = ["standard_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "number"], name="duty_number_unique_per_standard"),
            models.UniqueConstraint(fields=["standard", "external_id"], name="duty_external_id_unique_per_standard"),
            models.CheckConstraint(condition=Q(number__gte=1), name="duty_number_from_one"),
        ]

    def __str__(self) -> str:
        return f"Duty {self.number}: {self.text}"

    def natural_key(self) -> tuple[str, str, int]:
        return (*self.standard.natural_key(), self.number)

    natural_key.dependencies = ["standards.standard"]

    @property
    def sorted_ksbs(self) -> list[KSB]:
        """Its KSBs in the standard's order (K, S, B), from the prefetch."""
        order = {"K": 0, "S": 1, "B": 2}
        return sorted(self.ksbs.all(), key=lambda k: (order[k.kind], k.number))
