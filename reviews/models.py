"""Judgements on evidence: assessors' decisions, KSB sign-offs, and IQA sampling of both."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.urls import reverse

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from portal.models import Apprenticeship, Organisation, User
from standards.models import KSB


class DecisionQuerySet(models.QuerySet["Decision"]):
    def visible_to(self, user: User) -> DecisionQuerySet:
        """Whoever may see the evidence may see the decisions on it."""
        return self.filter(version__item__in=EvidenceItem.objects.visible_to(user))


class Decision(models.Model):
    """An assessor's judgement on one submitted version: accepted, or returned with feedback."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned for revision"

    version = models.OneToOneField(EvidenceVersion, on_delete=models.PROTECT, related_name="decision")
    assessor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    feedback = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="returned") | ~Q(feedback=""), name="decision_return_has_feedback"
            ),
            models.CheckConstraint(condition=Q(outcome__in=["accepted", "returned"]), name="decision_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.version}"

    @property
    def confirmed_ksbs(self) -> list[KSB]:
        return [j.mapping.ksb for j in self.judgements.all() if j.confirmed]


class KSBJudgement(models.Model):
    """On acceptance, whether each mapped KSB is confirmed, with an optional comment."""

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="judgements")
    mapping = models.OneToOneField(KSBMapping, on_delete=models.PROTECT, related_name="judgement")
    confirmed = models.BooleanField()
    comment = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.mapping.ksb.code} {'confirmed' if self.confirmed else 'not confirmed'}"


class SignOffQuerySet(models.QuerySet["SignOff"]):
    def visible_to(self, user: User) -> SignOffQuerySet:
        return self.filter(apprenticeship__in=Apprenticeship.objects.visible_to(user))

    def live(self) -> SignOffQuerySet:
        return self.filter(revoked_at__isnull=True)


class SignOff(models.Model):
    """An assessor's statement that a KSB is met, relying on particular evidence versions.

    The file hashes at signing are kept beside it; revoking keeps the row and says why.
    """

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="sign_offs")
    ksb = models.ForeignKey(KSB, on_delete=models.PROTECT, related_name="sign_offs")
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="sign_offs")
    signed_at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField()
    versions = models.ManyToManyField(EvidenceVersion, related_name="sign_offs")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    revoke_reason = models.TextField(blank=True)

    objects = SignOffQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-pk"]
        constraints = [
            # However two assessors race, a KSB has at most one live sign-off.
            models.UniqueConstraint(
                fields=["apprenticeship", "ksb"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_sign_off_per_ksb",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | (Q(revoked_by__isnull=False) & ~Q(revoke_reason="")),
                name="revoked_sign_off_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ksb.code} signed off for {self.apprenticeship.apprentice}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class SignedFile(models.Model):
    """The SHA-256 of a relied-on file at the moment of sign-off."""

    sign_off = models.ForeignKey(SignOff, on_delete=models.PROTECT, related_name="signed_files")
    version = models.ForeignKey(EvidenceVersion, on_delete=models.PROTECT, related_name="+")
    file = models.ForeignKey(EvidenceFile, on_delete=models.PROTECT, related_name="signed_copies")
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sign_off", "version", "file"], name="signed_file_once_per_sign_off"),
        ]

    def __str__(self) -> str:
        return f"{self.file} {self.sha256[:12]}"


class IQAReview(models.Model):
    """An internal quality assurer's view on an assessor's decision or sign-off."""

    class Outcome(models.TextChoices):
        AGREE = "agree", "Agree"
        DISAGREE = "disagree", "Disagree"

    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="iqa_reviews")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="iqa_reviews")
    sign_off = models.ForeignKey(SignOff, on_delete=models.PROTECT, null=True, blank=True, related_name="iqa_reviews")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(decision__isnull=False) & Q(sign_off__isnull=True))
                | (Q(decision__isnull=True) & Q(sign_off__isnull=False)),
                name="iqa_review_of_one_thing",
            ),
            models.CheckConstraint(condition=~Q(outcome="disagree") | ~Q(comment=""), name="iqa_disagree_says_why"),
        ]

    def __str__(self) -> str:
        return f"IQA {self.get_outcome_display().lower()} by {self.reviewer}"


class ExportQuerySet(models.QuerySet["Export"]):
    def visible_to(self, user: User) -> ExportQuerySet:
        """Staff who may see an apprenticeship may start and download its export.

        Portfolio exports: the apprentice's assessor and their provider's admins. Cohort exports:
        the provider's admins.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        if user.role == User.Role.ASSESSOR:
            return self.filter(kind=Export.Kind.PORTFOLIO, apprenticeship__in=Apprenticeship.objects.visible_to(user))
        if user.role == User.Role.PROVIDER_ADMIN:
            return self.filter(provider_id=user.organisation_id)
        return self.none()


class Export(models.Model):
    """A portfolio PDF, or a cohort's zip of them, made by a worker and kept for a while."""

    class Kind(models.TextChoices):
        PORTFOLIO = "portfolio", "Portfolio PDF"
        COHORT = "cohort", "Cohort zip"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="exports")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="exports")
    apprenticeship = models.ForeignKey(
        Apprenticeship, on_delete=models.PROTECT, null=True, blank=True, related_name="exports"
    )
    # A cohort export's filters: {"assessor": id, "employer": id, "status": "active"}.
    filters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to="exports/", max_length=255, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="cohort") | Q(apprenticeship__isnull=False), name="portfolio_export_has_apprenticeship"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="export_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_state_display().lower()})"

    def get_absolute_url(self) -> str:
        return reverse("reviews:export", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
