"""People, their organisations, and apprenticeships (enrolments on a standard version)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from standards.models import Standard


class Organisation(models.Model):
    """A training provider or an employer. Every person belongs to one."""

    class Kind(models.TextChoices):
        PROVIDER = "provider", "Training provider"
        EMPLOYER = "employer", "Employer"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=255)
    ukprn = models.CharField(
        "UKPRN", max_length=8, blank=True, help_text="UK Provider Reference Number, for training providers."
    )
    safeguarding_lead = models.ForeignKey(
        "User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The provider's designated safeguarding lead: who hears of a concern raised in a progress review.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="organisation_name_unique_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=["provider", "employer"]), name="organisation_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> User:
        # Addresses are stored lower-case, so sign-in is not case-sensitive.
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person who signs in with their email address and acts in one role."""

    class Role(models.TextChoices):
        APPRENTICE = "apprentice", "Apprentice"
        ASSESSOR = "assessor", "Assessor"
        MENTOR = "mentor", "Employer mentor"
        PROVIDER_ADMIN = "provider_admin", "Provider admin"
        IQA = "iqa", "Internal quality assurer"

    # Which kind of organisation each role belongs to.
    ROLE_ORGANISATION_KIND = {
        Role.APPRENTICE: Organisation.Kind.PROVIDER,
        Role.ASSESSOR: Organisation.Kind.PROVIDER,
        Role.PROVIDER_ADMIN: Organisation.Kind.PROVIDER,
        Role.IQA: Organisation.Kind.PROVIDER,
        Role.MENTOR: Organisation.Kind.EMPLOYER,
    }

    username = None
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="people"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role="") | Q(organisation__isnull=False), name="user_with_role_has_organisation"
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.lower()
        if self.role and self.organisation_id:
            expected = self.ROLE_ORGANISATION_KIND[self.Role(self.role)]
            if self.organisation.kind != expected:
                where = "an employer" if expected == Organisation.Kind.EMPLOYER else "a training provider"
                raise ValidationError(
                    {"organisation": f"The {self.get_role_display().lower()} role belongs to {where}."}
                )
        if self.role and not self.organisation_id:
            raise ValidationError({"organisation": "A person with a role belongs to an organisation."})

    @property
    def is_apprentice(self) -> bool:
        return self.role == self.Role.APPRENTICE

    @property
    def is_assessor(self) -> bool:
        return self.role == self.Role.ASSESSOR

    @property
    def is_mentor(self) -> bool:
        return self.role == self.Role.MENTOR

    @property
    def is_provider_admin(self) -> bool:
        return self.role == self.Role.PROVIDER_ADMIN

    @property
    def is_iqa(self) -> bool:
        return self.role == self.Role.IQA


class ApprenticeshipQuerySet(models.QuerySet["Apprenticeship"]):
    def visible_to(self, user: User) -> ApprenticeshipQuerySet:
        """The one rule for who may see an apprenticeship.

        Apprentices see their own, assessors their caseload, mentors those they mentor;
        provider admins and IQAs see every apprenticeship of their own provider. Nobody sees
        another provider's apprenticeships.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        role = user.role
        if role == User.Role.APPRENTICE:
            return self.filter(apprentice=user)
        if role == User.Role.ASSESSOR:
            return self.filter(assessor=user, provider_id=user.organisation_id)
        if role == User.Role.MENTOR:
            return self.filter(mentor=user, employer_id=user.organisation_id)
        if role in (User.Role.PROVIDER_ADMIN, User.Role.IQA):
            return self.filter(provider_id=user.organisation_id)
        return self.none()

    def current_of(self, apprentice: User) -> Apprenticeship | None:
        """The apprenticeship an apprentice is working on now: their newest still open, else their newest."""
        own = self.filter(apprentice=apprentice).select_related("standard", "employer", "assessor", "mentor")
        open_ones = own.exclude(status__in=Apprenticeship.CLOSED_STATUSES).order_by("-start_date", "-pk")
        return open_ones.first() or own.order_by("-start_date", "-pk").first()

    def with_people(self) -> ApprenticeshipQuerySet:
        return self.select_related("apprentice", "assessor", "mentor", "provider", "employer", "standard")

    def evidence_changed(self) -> int:
        """Gives these apprenticeships a new evidence stamp: what was cached under the old one is not read again.

        Called by every service that changes what progress counts (evidence and its KSB mappings,
        decisions, sign-offs, the standard version), inside its transaction: the new stamp is seen
        exactly when the change is, and the row lock it takes orders concurrent changes.
        """
        return self.update(evidence_stamp=uuid.uuid4())


class Apprenticeship(models.Model):
    """An apprentice's enrolment on one standard version with a provider and an employer."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BREAK_IN_LEARNING = "break", "Break in learning"
        WITHDRAWN = "withdrawn", "Withdrawn"
        AT_GATEWAY = "gateway", "At gateway"
        COMPLETED = "completed", "Completed"

    # A portfolio no longer takes new work in these.
    CLOSED_STATUSES = (Status.WITHDRAWN, Status.COMPLETED)

    apprentice = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="apprenticeships",
        limit_choices_to={"role": "apprentice"},
        error_messages={"invalid": "Choose a person with the apprentice role."},
    )
    standard = models.ForeignKey(Standard, on_delete=models.PROTECT, related_name="apprenticeships")
    provider = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="provided_apprenticeships",
        limit_choices_to={"kind": "provider"},
        error_messages={"invalid": "Choose a training provider."},
    )
    employer = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="employed_apprenticeships",
        limit_choices_to={"kind": "employer"},
        error_messages={"invalid": "Choose an employer."},
    )
    assessor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="caseload",
        limit_choices_to={"role": "assessor"},
        error_messages={"invalid": "Choose a person with the assessor role."},
    )
    mentor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        related_name="mentees",
        null=True,
        blank=True,
        limit_choices_to={"role": "mentor"},
        error_messages={"invalid": "Choose a person with the employer mentor role."},
    )
    start_date = models.DateField()
    planned_end_date = models.DateField()
    # The off-the-job rules before August 2025 depend on the hours in the employment contract.
    contracted_hours_per_week = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("37.5"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("80"))],
        help_text="Hours a week in the apprentice's contract of employment.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    # Progress (KSB coverage) is cached under this; see `ApprenticeshipQuerySet.evidence_changed`.
    evidence_stamp = models.UUIDField(default=uuid.uuid4, editable=False)

    objects = ApprenticeshipQuerySet.as_manager()

    class Meta:
        ordering = ["apprentice__last_name", "apprentice__first_name", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end_date__gt=F("start_date")), name="apprenticeship_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.apprentice} — {self.standard.reference} v{self.standard.version}"

    def clean(self) -> None:
        """People and organisations must fit together: the same provider, the right roles."""
        errors: dict[str, str] = {}
        if self.start_date and self.planned_end_date and self.planned_end_date <= self.start_date:
            errors["planned_end_date"] = "The planned end date must be after the start date."
        # Roles and organisation kinds are checked by each field's limit_choices_to.
        for field, org_field, where in [
            ("apprentice", "provider_id", "provider"),
            ("assessor", "provider_id", "provider"),
            ("mentor", "employer_id", "employer"),
        ]:
            person = getattr(self, field) if getattr(self, f"{field}_id") else None
            if person and getattr(self, org_field) and person.organisation_id != getattr(self, org_field):
                errors[field] = f"{person} does not belong to this apprenticeship's {where}."
        if errors:
            raise ValidationError(errors)


class BreakInLearning(models.Model):
    """A period when the apprentice is not learning: the off-the-job clock stops while it lasts.

    An open break has no `ends_on` yet; the apprenticeship is on "Break in learning" meanwhile.
    """

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.CASCADE, related_name="breaks")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="The last day of the break; empty while it lasts.")
    reason = models.CharField(max_length=300)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "pk"]
        verbose_name_plural = "breaks in learning"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="break_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["apprenticeship"], condition=Q(ends_on__isnull=True), name="one_open_break_per_apprenticeship"
            ),
        ]

    def __str__(self) -> str:
        return f"Break from {self.starts_on:%d %b %Y}" + (f" to {self.ends_on:%d %b %Y}" if self.ends_on else "")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit entries are never changed.")

    def delete(self):
        raise TypeError("Audit entries are never deleted.")


class AuditEntry(models.Model):
    """One link of the audit chain. Written by `portal.audit.record` only; never updated or deleted."""

    sequence = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=60)
    apprenticeship = models.ForeignKey(
        Apprenticeship, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    payload = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def save(self, *args, **kwargs):
        raise TypeError("Audit entries are appended with portal.audit.record, never saved directly.")

    def delete(self, *args, **kwargs):
        raise TypeError("Audit entries are never deleted.")


class AuditChainHead(models.Model):
    """The single row that holds the chain's last hash; locking it serialises appends."""

    last_hash = models.CharField(max_length=64)
    length = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain of {self.length}"


class Notice(models.Model):
    """A message on someone's home page, e.g. that their evidence was returned with feedback."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notices")
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return self.message
