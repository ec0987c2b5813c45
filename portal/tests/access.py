"""The machinery of the role × URL access table (portal/tests/test_access_table.py).

Everything here is about *how* to try a URL as someone; *what* each person should get is
the table in the test file. A URL is tried inside a savepoint that is rolled back, so an
allowed POST (say, the owner deleting their draft) cannot change what the next person meets.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlparse

from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.static import serve

from evidence.models import EvidenceFile, EvidenceItem, OTJActivity
from evidence.services import revise_evidence, update_draft
from evidence.tests.factories import evidence, otj_activity
from evidence.tests.samples import upload
from portal.models import Apprenticeship, Notice, User
from reviews.models import Decision, Export, GatewayConfirmation, IQAReview, ProgressReview, SignOff, TrainingPlan
from reviews.services import record_iqa_review, return_evidence
from reviews.tests.helpers import signed_off
from reviews.tests.programme import progress_review, training_plan
from standards.models import KSB, Standard
from standards.tests.factories import standard_with_ksbs

# The people of the table, in the order of its columns.
ROLES = (
    "owner",  # the apprentice whose apprenticeship it is
    "other_apprentice",  # another apprentice of the same provider
    "assessor",  # the owner's assessor
    "other_assessor",  # another assessor of the same provider
    "mentor",  # the owner's employer mentor
    "provider_admin",  # an admin of the owner's provider
    "iqa",  # the provider's internal quality assurer
    "outsider_admin",  # an admin of another provider
    "outsider_apprentice",  # an apprentice of another provider
    "anonymous",
)

# Outcomes. A status code (403, 404, 405) must be exactly that.
OK = "allowed"  # 2xx, or a redirect to anywhere but the sign-in page
IN = "sign-in"  # a redirect to the sign-in page


@dataclass(frozen=True)
class Bug:
    """A known access bug: `expected` is the correct outcome, which the view does not give yet."""

    expected: str | int
    reason: str


# Apps whose rows are not watched when someone is refused. Sessions and sign-in attempts are the
# machinery of signing in, which every request touches; the rest (permissions, content types,
# admin history) no view of the table writes. The portal's people are `portal.User`, watched.
UNWATCHED_APPS = {"sessions", "axes", "admin", "contenttypes", "auth"}


# --- The URLconf ---------------------------------------------------------------------------------


def is_excluded(namespace: str, pattern: URLPattern | URLResolver) -> bool:
    """Django admin's own pages and static or media serving are not in the table.

    The admin site is closed to everyone but staff who have passed a second factor, which the
    hardening tests cover; no file is served from MEDIA_ROOT or STATIC_ROOT by a URL pattern
    (whitenoise serves static files before the URLconf, evidence only leaves through views).
    """
    if isinstance(pattern, URLResolver):
        return pattern.namespace == "admin"
    return pattern.callback is serve or namespace.startswith("admin:")


def url_patterns(resolver: URLResolver | None = None, namespace: str = "", prefix: str = ""):
    """Every URL pattern of the project as (name, route), namespaces included, recursively."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if is_excluded(namespace, pattern):
            continue
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_patterns(pattern, inner, route)
        else:
            yield (f"{namespace}{pattern.name}" if pattern.name else None), route


# --- The world the URLs point into -------------------------------------------------------------


@dataclass
class World:
    """One apprenticeship with something behind every URL, and the people of the table."""

    people: dict[str, User | None]
    apprenticeship: Apprenticeship
    other_apprenticeship: Apprenticeship
    standard: Standard
    newer_standard: Standard
    ksb: KSB
    accepted: EvidenceItem  # accepted, its K1 signed off
    submitted: EvidenceItem  # submitted, waiting for the assessor
    draft: EvidenceItem  # never submitted: the apprentice's own
    revised: EvidenceItem  # returned with feedback: version 1 submitted, version 2 a draft again
    file: EvidenceFile  # of the accepted item's (submitted) version
    draft_file: EvidenceFile
    revision_file: EvidenceFile  # added to the revised item's draft version 2 only
    decision: Decision
    sign_off: SignOff
    iqa_review: IQAReview
    otj: OTJActivity  # logged by the apprentice
    otj_by_mentor: OTJActivity  # logged by the mentor on the apprentice's behalf
    review: ProgressReview
    plan: TrainingPlan
    confirmation: GatewayConfirmation
    notice: Notice
    portfolio_export: Export
    cohort_export: Export
    personal_data_export: Export  # the owner's download of their own data
    reset_uid: str
    reset_token: str


def _finished_export(**fields) -> Export:
    export = Export.objects.create(state=Export.State.DONE, progress=100, **fields)
    export.file.save(export.file_name, ContentFile(b"%PDF-1.7 finished"), save=True)
    return export


def _revised_item(apprenticeship: Apprenticeship) -> tuple[EvidenceItem, EvidenceFile]:
    """Submitted, returned, revised, and given a new file in the draft that the assessor has not seen."""
    item = evidence(apprenticeship, title="Blood film review", codes=("K4",), submit=True)
    return_evidence(item=item, by=apprenticeship.assessor, feedback="Add the film images you describe.")
    revise_evidence(item=item, by=apprenticeship.apprentice)
    ksb = apprenticeship.standard.ksbs.get(kind="K", number=4)
    draft = update_draft(
        item=item,
        by=apprenticeship.apprentice,
        title="Blood film review, with images",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.OBSERVATION,
        reflection="Added the images of the films I reviewed.",
        mappings={ksb: "Reviewed the films"},
        uploads=[upload("film.png")],
    )
    item.refresh_from_db()
    return item, draft.files.get(original_name="film.png")


def build_world(
    *,
    apprenticeship: Apprenticeship,
    other_apprenticeship: Apprenticeship,
    outsider_apprenticeship: Apprenticeship,
    other_assessor: User,
    provider_admin: User,
    iqa: User,
    outsider: User,
) -> World:
    standard = apprenticeship.standard
    # A newer version of the same standard, so that comparing and moving versions have somewhere to go.
    newer = standard_with_ksbs(reference=standard.reference, version="1.1", title=standard.title)
    sign_off = signed_off(apprenticeship, "K1")
    version = sign_off.versions.get()
    accepted = version.item
    decision = version.decision
    iqa_review = record_iqa_review(by=iqa, decision=decision, outcome="agree", comment="Sound judgement.")
    submitted = evidence(
        apprenticeship, title="Calibration log for the coagulation analyser", codes=("K2",), submit=True
    )
    draft = evidence(apprenticeship, title="Notes on sample rejection criteria", codes=("K3",), files=("notes.pdf",))
    revised, revision_file = _revised_item(apprenticeship)
    confirmation = GatewayConfirmation.objects.create(
        apprenticeship=apprenticeship,
        party=GatewayConfirmation.Party.PROVIDER,
        confirmed_by=apprenticeship.assessor,
    )
    notice = Notice.objects.create(recipient=apprenticeship.apprentice, message="Your evidence was accepted.")
    portfolio_export = _finished_export(
        kind=Export.Kind.PORTFOLIO,
        requested_by=apprenticeship.assessor,
        provider=apprenticeship.provider,
        apprenticeship=apprenticeship,
        file_name="portfolio.pdf",
    )
    cohort_export = _finished_export(
        kind=Export.Kind.COHORT,
        requested_by=provider_admin,
        provider=apprenticeship.provider,
        file_name="cohort.zip",
    )
    owner = apprenticeship.apprentice
    personal_data_export = _finished_export(
        kind=Export.Kind.PERSONAL_DATA,
        requested_by=owner,
        provider=apprenticeship.provider,
        apprenticeship=apprenticeship,
        file_name="my-data.zip",
    )
    return World(
        people={
            "owner": owner,
            "other_apprentice": other_apprenticeship.apprentice,
            "assessor": apprenticeship.assessor,
            "other_assessor": other_assessor,
            "mentor": apprenticeship.mentor,
            "provider_admin": provider_admin,
            "iqa": iqa,
            "outsider_admin": outsider,
            "outsider_apprentice": outsider_apprenticeship.apprentice,
            "anonymous": None,
        },
        apprenticeship=apprenticeship,
        other_apprenticeship=other_apprenticeship,
        standard=standard,
        newer_standard=newer,
        ksb=sign_off.ksb,
        accepted=accepted,
        submitted=submitted,
        draft=draft,
        revised=revised,
        file=version.files.get(),
        draft_file=draft.versions.get().files.get(),
        revision_file=revision_file,
        decision=decision,
        sign_off=sign_off,
        iqa_review=iqa_review,
        otj=otj_activity(apprenticeship, on=datetime.date(2025, 10, 6)),
        otj_by_mentor=otj_activity(apprenticeship, on=datetime.date(2025, 10, 7), by=apprenticeship.mentor),
        review=progress_review(apprenticeship),
        plan=training_plan(apprenticeship),
        confirmation=confirmation,
        notice=notice,
        portfolio_export=portfolio_export,
        cohort_export=cohort_export,
        personal_data_export=personal_data_export,
        reset_uid=urlsafe_base64_encode(force_bytes(owner.pk)),
        reset_token=default_token_generator.make_token(owner),
    )


# --- Trying a URL --------------------------------------------------------------------------------


@cache
def watched_tables() -> list[str]:
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label not in UNWATCHED_APPS and model._meta.managed
    }
    return sorted(tables)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table the portal keeps: any insert, update or delete shows.

    Plain SQL, because this runs twice for every refused request and the ORM would triple the time.
    """
    state = {}
    with connection.cursor() as cursor:
        for table in watched_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608 - our table names
            state[table] = cursor.fetchall()
    return state


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return sorted(label for label in before if before[label] != after[label])


def outcome_of(response) -> str | int:
    """The response as one of the table's outcomes (or its status code when it is none of them)."""
    status = response.status_code
    if 300 <= status < 400:
        target = urlparse(response.get("Location", "")).path
        return IN if target == reverse("login") else OK
    if 200 <= status < 300:
        return OK
    return status


@dataclass(frozen=True)
class Attempt:
    """What one person got from one request, and which tables it changed."""

    outcome: str | int
    changed: list[str]
    detail: str = ""


def attempt(user: User | None, method: str, url: str, data: dict | None, *, watch: bool) -> Attempt:
    """One request as `user`, rolled back afterwards; with `watch`, the tables it changed."""
    client = Client(raise_request_exception=True)
    with transaction.atomic():
        if user is not None:
            client.force_login(user)
        before = snapshot() if watch else {}
        detail, changed = "", []
        try:
            response = client.post(url, data or {}) if method == "POST" else client.get(url)
        except Exception as error:  # noqa: BLE001 - reported as the outcome, with the person and URL
            # The transaction may be broken now (PostgreSQL refuses further queries): no second snapshot.
            outcome, detail = 500, f"{type(error).__name__}: {error}"
        else:
            outcome = outcome_of(response)
            if response.has_header("Location"):
                detail = f"to {response['Location']}"
            if response.streaming:
                # Read to the end, as a server would: the test client then closes the file. (Closing
                # the response here instead would signal the end of a request, which closes the
                # database connection in the middle of the test.)
                response.getvalue()
            changed = changed_tables(before, snapshot()) if watch else []
        transaction.set_rollback(True)
    return Attempt(outcome=outcome, changed=changed, detail=detail)
