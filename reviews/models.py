"""Judgements on evidence and on the programme.

Assessors' decisions, KSB sign-offs and IQA sampling of both; progress reviews, training plans
and their three-party signatures; gateway confirmations; exports; reminders already sent.
"""

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
        # The IQA's sample reads each assessor's newest decisions straight off this index.
        indexes = [
            models.Index(fields=["assessor", "-decided_at", "-id"], name="decision_assessor_newest"),
        ]
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
        # The IQA's sample reads each assessor's newest sign-offs straight off this index.
        indexes = [
            models.Index(fields=["signed_by", "-signed_at", "-id"], name="sign_off_signer_newest"),
        ]
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
        the provider's admins. Personal data exports: the apprentice who asked for it, nobody else.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        # An apprentice's copy of their own data is theirs alone: no member of staff, not even a
        # site administrator, opens it.
        if user.role == User.Role.APPRENTICE:
            return self.filter(kind=Export.Kind.PERSONAL_DATA, requested_by=user)
        staff = self.exclude(kind=Export.Kind.PERSONAL_DATA)
        if user.is_superuser:
            return staff
        if user.role == User.Role.ASSESSOR:
            return staff.filter(kind=Export.Kind.PORTFOLIO, apprenticeship__in=Apprenticeship.objects.visible_to(user))
        if user.role == User.Role.PROVIDER_ADMIN:
            return staff.filter(provider_id=user.organisation_id)
        return self.none()


class Export(models.Model):
    """A portfolio PDF, a cohort's zip of them, or an apprentice's own data: made by a worker, kept for a while."""

    class Kind(models.TextChoices):
        PORTFOLIO = "portfolio", "Portfolio PDF"
        COHORT = "cohort", "Cohort zip"
        PERSONAL_DATA = "personal_data", "Personal data zip"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
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
    # A cohort export: when the zip of its finished parts was handed to the broker. Set once, under
    # the row's lock, by whichever part finishes last; cleared if the broker could not take it.
    assembly_queued_at = models.DateTimeField(null=True, blank=True)

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


class ExportPart(models.Model):
    """One portfolio of a cohort export, rendered by a task of its own so that workers share the cohort.

    The rows live while the cohort is being made: the zip is assembled from their files, then they go.
    """

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="parts")
    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="+")
    # The cohort's order, kept for the zip and its manifest.
    position = models.PositiveIntegerField()
    # When its task was last handed to the broker; None when the broker could not take it.
    queued_at = models.DateTimeField(null=True, blank=True)
    file = models.CharField(max_length=255, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["export", "position"]
        constraints = [
            models.UniqueConstraint(fields=["export", "apprenticeship"], name="export_part_once_per_portfolio"),
        ]

    def __str__(self) -> str:
        return f"Part {self.position + 1} of export #{self.export_id}"


class Party(models.TextChoices):
    """The three who sign a progress review or a training plan, each in their own account."""

    APPRENTICE = "apprentice", "Apprentice"
    MENTOR = "mentor", "Employer mentor"
    ASSESSOR = "assessor", "Assessor"


class ProgrammeQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> models.QuerySet:
        """Whoever may see the apprenticeship may see its progress reviews and training plans."""
        return self.filter(apprenticeship__in=Apprenticeship.objects.visible_to(user))


class ProgressReview(models.Model):
    """A tripartite progress review, recorded by the assessor in the funding rules' terms.

    The off-the-job hours and the KSB coverage are captured when the review is recorded and
    never recomputed, so the review says what everyone saw that day. Once the apprentice, the
    employer mentor and the assessor have all signed, it is locked.
    """

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="progress_reviews")
    held_on = models.DateField("held on")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    actions_since_last = models.TextField("actions and training since the last review")
    progress_against_plan = models.TextField("progress against the training plan")
    plan_updates = models.TextField("updates to the training plan", blank=True)
    wellbeing = models.TextField("wellbeing")
    concerns = models.TextField("concerns or changes of circumstance", blank=True)
    safeguarding_concern = models.BooleanField("raise a safeguarding concern", default=False)
    # Seen by the provider's staff only: never by the employer, never in the portfolio PDF.
    safeguarding_details = models.TextField(blank=True)
    otj_logged_hours = models.DecimalField(max_digits=7, decimal_places=2)
    otj_verified_hours = models.DecimalField(max_digits=7, decimal_places=2)
    otj_expected_hours = models.DecimalField(max_digits=7, decimal_places=2, null=True)
    otj_required_hours = models.DecimalField(max_digits=7, decimal_places=2, null=True)
    ksb_signed_off = models.PositiveSmallIntegerField()
    ksb_total = models.PositiveSmallIntegerField()
    # {"K1": "signed_off", "K2": "accepted", ...}: each KSB's state when the review was recorded.
    coverage = models.JSONField(default=dict)
    locked_at = models.DateTimeField(null=True, blank=True)

    objects = ProgrammeQuerySet.as_manager()

    class Meta:
        ordering = ["-held_on", "-pk"]
        indexes = [models.Index(fields=["apprenticeship", "held_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(safeguarding_concern=False) | ~Q(safeguarding_details=""),
                name="safeguarding_concern_has_details",
            ),
        ]

    def __str__(self) -> str:
        return f"Progress review of {self.held_on:%d %b %Y}"

    def get_absolute_url(self) -> str:
        return reverse("reviews:progress_review", args=[self.pk])

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def otj_shortfall(self):
        """Hours behind the straight-line trajectory on the day, or None when on track or not known."""
        if self.otj_expected_hours is None or self.otj_logged_hours >= self.otj_expected_hours:
            return None
        return self.otj_expected_hours - self.otj_logged_hours


class ReviewAction(models.Model):
    """An agreed next action from a progress review: what, by whom, by when."""

    review = models.ForeignKey(ProgressReview, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=300)
    owner = models.CharField(max_length=10, choices=Party.choices)
    due_on = models.DateField("due on")

    class Meta:
        ordering = ["due_on", "pk"]

    def __str__(self) -> str:
        return f"{self.description} ({self.get_owner_display()}, by {self.due_on:%d %b %Y})"


class TrainingPlan(models.Model):
    """One version of an apprenticeship's training plan. A change after anyone signed is a new version."""

    class EnglishMaths(models.TextChoices):
        WORKING_TOWARDS = "working_towards", "Working towards"
        ACHIEVED = "achieved", "Achieved (evidence recorded)"
        EXEMPT = "exempt", "Exempt (prior attainment recorded)"

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="training_plans")
    version = models.PositiveSmallIntegerField()
    planned_otj_hours = models.PositiveIntegerField("planned off-the-job hours")
    planned_end_date = models.DateField()
    epa_organisation = models.CharField("end-point assessment organisation", max_length=200)
    english_status = models.CharField("English", max_length=20, choices=EnglishMaths.choices)
    english_evidence = models.CharField("English evidence", max_length=300, blank=True)
    maths_status = models.CharField("maths", max_length=20, choices=EnglishMaths.choices)
    maths_evidence = models.CharField("maths evidence", max_length=300, blank=True)
    text = models.TextField("the plan")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    objects = ProgrammeQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["apprenticeship", "version"], name="training_plan_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="training_plan_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"Training plan v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("reviews:training_plan", args=[self.apprenticeship_id])

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def english_and_maths_recorded(self) -> bool:
        """Both achieved or exempt, each with the evidence written down."""
        done = (self.EnglishMaths.ACHIEVED, self.EnglishMaths.EXEMPT)
        return (
            self.english_status in done
            and self.maths_status in done
            and bool(self.english_evidence.strip())
            and bool(self.maths_evidence.strip())
        )


class Signature(models.Model):
    """One party's signature on a progress review or a training plan, over the content as it was."""

    review = models.ForeignKey(
        ProgressReview, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures"
    )
    plan = models.ForeignKey(TrainingPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures")
    party = models.CharField(max_length=10, choices=Party.choices)
    signer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(auto_now_add=True)
    # SHA-256 of what was signed, so a later change to it would show.
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(review__isnull=False) & Q(plan__isnull=True))
                | (Q(review__isnull=True) & Q(plan__isnull=False)),
                name="signature_on_one_document",
            ),
            models.UniqueConstraint(
                fields=["review", "party"], condition=Q(review__isnull=False), name="one_signature_per_party_on_review"
            ),
            models.UniqueConstraint(
                fields=["plan", "party"], condition=Q(plan__isnull=False), name="one_signature_per_party_on_plan"
            ),
        ]

    def __str__(self) -> str:
        return f"Signed by {self.signer} as {self.get_party_display().lower()}"


class GatewayConfirmation(models.Model):
    """The employer's or the provider's recorded agreement that the apprentice is ready for gateway."""

    class Party(models.TextChoices):
        EMPLOYER = "employer", "Employer"
        PROVIDER = "provider", "Training provider"

    apprenticeship = models.ForeignKey(Apprenticeship, on_delete=models.PROTECT, related_name="gateway_confirmations")
    party = models.CharField(max_length=10, choices=Party.choices)
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(auto_now_add=True)
    comment = models.CharField(max_length=500, blank=True)

    objects = ProgrammeQuerySet.as_manager()

    class Meta:
        ordering = ["confirmed_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["apprenticeship", "party"], name="one_gateway_confirmation_per_party"),
        ]

    def __str__(self) -> str:
        return f"{self.get_party_display()} agrees the apprentice is ready for gateway"


class SentReminder(models.Model):
    """A reminder already sent for a condition, so the periodic run sends it once, not every time.

    The row goes when the condition clears, so the same condition arising again is reminded again.
    """

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120, help_text="The condition, e.g. 'review-due:12:2026-03-01'.")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="reminder_once_per_condition")]

    def __str__(self) -> str:
        return self.key
