"""An apprentice's copy of everything the portal holds about them (the UK GDPR right of access).

One zip: `data.json` with every record about them, `files/` with every evidence file as uploaded
(its SHA-256 beside it in the JSON), and `README.txt` explaining the layout. It is made by the
export worker, like a portfolio PDF, because a portfolio's files can run to hundreds of megabytes;
it is queued on the default queue, not the PDF queue, as it only copies bytes. Only the apprentice
who asked for it may download it.

Safeguarding matters are left out, as from the portfolio PDF: neither a concern's details nor the
fact of one. The right of access allows withholding what would be likely to cause serious harm,
and the provider's designated safeguarding lead decides what to disclose, outside the portal.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import PurePath

from django.apps import apps
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation, ValidationError
from django.core.files.base import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from portal.models import Apprenticeship, AuditEntry, Notice, User

from . import exports
from .models import (
    Decision,
    Export,
    GatewayConfirmation,
    IQAReview,
    KSBJudgement,
    ProgressReview,
    SignedFile,
    SignOff,
    TrainingPlan,
)

FORMAT = "apprenticeship-portal personal data, version 1"

README = """\
Your data from the apprenticeship portal
=========================================

This archive holds everything the portal keeps about you, as it was on {exported_at}.

data.json   Every record about you, as JSON (UTF-8):
              person            your account (the password is never stored in readable form,
                                so it is not here)
              apprenticeships   each apprenticeship with its evidence (every version, the KSBs
                                mapped with your notes, the assessor's decisions, feedback and
                                judgements, and the IQA's reviews of them), files, sign-offs,
                                off-the-job log, breaks in learning, progress reviews, training
                                plans, signatures, gateway confirmations and its audit log
              notices           the notices shown on your home page
              sign_ins          the portal's record of sign-ins to your account
files/      Every evidence file you uploaded, exactly as uploaded, named
            "<file id>-<your file's name>". In data.json each file lists its "path" here and its
            "sha256": check a file with `sha256sum files/...` (or `certutil -hashfile ... SHA256`
            on Windows). A file whose "path" is null was not in storage ("missing").

Left out: safeguarding matters raised in progress reviews (neither the details nor the fact of
one), as the law allows where disclosure could cause serious harm. Ask your training provider's
designated safeguarding lead about them. Audit entries about a safeguarding concern are left out
too, and safeguarding fields are removed from the entries shown, so those entries' hashes will not
recompute.

Dates and times are ISO 8601 in UTC unless they are plain dates. Hours are minutes / 60.
"""


def may_request(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.role == User.Role.APPRENTICE


@transaction.atomic
def request_personal_data_export(*, by: User) -> Export:
    """Queues the zip of the apprentice's own data, or returns the one already on its way."""
    if not may_request(by):
        raise PermissionDenied("Only an apprentice downloads their own data here.")
    anchor = Apprenticeship.objects.current_of(by)
    if anchor is None:
        raise ValidationError("You have no apprenticeship in the portal yet: all it holds is your account, shown here.")
    pending = Export.objects.filter(
        kind=Export.Kind.PERSONAL_DATA, requested_by=by, state__in=[Export.State.QUEUED, Export.State.RUNNING]
    ).first()
    if pending:
        if exports.waiting_for_queue(pending):
            # Asking again is a good moment to try the task queue again.
            exports._queue(pending)
        return pending
    export = Export.objects.create(
        kind=Export.Kind.PERSONAL_DATA, requested_by=by, provider_id=anchor.provider_id, apprenticeship=anchor
    )
    # The same worker task as a portfolio PDF, on the default queue: copying files needs no PDF worker.
    exports._queue(export)
    return export


def archive_filename(exported_at: datetime.datetime) -> str:
    # No name in it: the file name is shown and recorded where the contents are not.
    return f"my-data-{timezone.localtime(exported_at):%Y%m%d-%H%M}.zip"


def archive_path(stored: EvidenceFile) -> str:
    """Where a file goes in the zip: its id first, so that names never clash, then a safe form of its name."""
    try:
        name = get_valid_filename(PurePath(stored.original_name.replace("\\", "/")).name)
    except SuspiciousFileOperation:
        name = "file"
    if len(name) > 100:
        suffix = PurePath(name).suffix[:10]
        name = name[: 100 - len(suffix)] + suffix
    return f"files/{stored.pk}-{name}"


def build_personal_data_archive(
    export: Export, *, exported_at: datetime.datetime, on_progress: Callable[[int], None] | None = None
) -> tuple[str, File]:
    """Writes the zip to a temporary file (never wholly in memory) and returns its name and the file."""
    person = User.objects.select_related("organisation").get(pk=export.requested_by_id)
    data, files = personal_data_of(person, exported_at=exported_at)
    entries = {entry["id"]: entry for a in data["apprenticeships"] for entry in a["files"]}
    total = sum(f.size for f in files) or 1
    copied = 0
    # Handed to the caller, who closes it once stored, so not a `with` block here.
    output = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for stored in files:
                entries[stored.pk].update(_copy_into(archive, stored))
                copied += stored.size
                if on_progress:
                    on_progress(95 * copied // total)
            body = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            archive.writestr("data.json", body)
            archive.writestr("README.txt", README.format(exported_at=exported_at.isoformat()))
        size = output.seek(0, 2)
        output.seek(0)
    except BaseException:
        output.close()
        raise
    name = archive_filename(exported_at)
    content = File(output, name=name)
    content.size = size
    return name, content


def _copy_into(archive: zipfile.ZipFile, stored: EvidenceFile) -> dict:
    """Copies one file in chunks, hashing what goes in; says where it went or why it is not there."""
    if stored.erased_at is not None:
        return {"path": None, "missing": "erased"}
    try:
        source = stored.file.open("rb")
    except FileNotFoundError:
        return {"path": None, "missing": "missing from storage"}
    path = archive_path(stored)
    digest = hashlib.sha256()
    # Documents and photos are compressed already: stored as they are, they copy at disk speed.
    info = zipfile.ZipInfo(path, date_time=timezone.localtime(stored.uploaded_at).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    with source, archive.open(info, "w", force_zip64=stored.size > 2**31) as target:
        for chunk in source.chunks():
            digest.update(chunk)
            target.write(chunk)
    sha256 = digest.hexdigest()
    result = {"path": path, "sha256": sha256}
    if sha256 != stored.sha256:
        result["note"] = f"the file in storage no longer matches the SHA-256 recorded at upload ({stored.sha256})"
    return result


def personal_data_of(person: User, *, exported_at: datetime.datetime) -> tuple[dict, list[EvidenceFile]]:
    """Everything held about the person, as JSON-ready data, and the files to copy beside it."""
    apprenticeships = list(
        Apprenticeship.objects.filter(apprentice=person)
        .select_related("standard", "provider", "employer", "assessor", "mentor")
        .prefetch_related("breaks__recorded_by")
        .order_by("start_date", "pk")
    )
    files: list[EvidenceFile] = []
    data = {
        "format": FORMAT,
        "exported_at": exported_at,
        "person": {
            "id": person.pk,
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "role": person.get_role_display(),
            "organisation": str(person.organisation) if person.organisation else None,
            "date_joined": person.date_joined,
            "last_login": person.last_login,
            "is_active": person.is_active,
        },
        "apprenticeships": [],
        "notices": [
            {"message": n.message, "url": n.url, "created_at": n.created_at, "read_at": n.read_at}
            for n in Notice.objects.filter(recipient=person).order_by("created_at", "pk")
        ],
        "sign_ins": _sign_ins(person),
    }
    for apprenticeship in apprenticeships:
        section, stored = _apprenticeship_data(apprenticeship, person)
        data["apprenticeships"].append(section)
        files += stored
    return data, files


def _name(user: User | None) -> str | None:
    return str(user) if user else None


def _apprenticeship_data(a: Apprenticeship, person: User) -> tuple[dict, list[EvidenceFile]]:
    stored = list(EvidenceFile.objects.filter(apprenticeship=a).order_by("uploaded_at", "pk"))
    return {
        "id": a.pk,
        "standard": {
            "reference": a.standard.reference,
            "version": a.standard.version,
            "title": a.standard.title,
            "level": a.standard.level,
        },
        "provider": str(a.provider),
        "employer": str(a.employer),
        "assessor": _name(a.assessor),
        "mentor": _name(a.mentor),
        "start_date": a.start_date,
        "planned_end_date": a.planned_end_date,
        "contracted_hours_per_week": a.contracted_hours_per_week,
        "status": a.get_status_display(),
        "created_at": a.created_at,
        "breaks_in_learning": [
            {
                "starts_on": b.starts_on,
                "ends_on": b.ends_on,
                "reason": b.reason,
                "recorded_by": _name(b.recorded_by),
                "recorded_at": b.recorded_at,
            }
            for b in a.breaks.all()
        ],
        "evidence": _evidence(a),
        "files": [
            {
                "id": f.pk,
                "name": f.original_name,
                "size": f.size,
                "content_type": f.content_type,
                "sha256_at_upload": f.sha256,
                "uploaded_at": f.uploaded_at,
            }
            for f in stored
        ],
        "sign_offs": _sign_offs(a),
        "off_the_job": _off_the_job(a),
        "progress_reviews": _progress_reviews(a),
        "training_plans": _training_plans(a),
        "gateway_confirmations": [
            {
                "party": g.get_party_display(),
                "confirmed_by": _name(g.confirmed_by),
                "confirmed_at": g.confirmed_at,
                "comment": g.comment,
            }
            for g in GatewayConfirmation.objects.filter(apprenticeship=a).select_related("confirmed_by")
        ],
        "audit_log": _audit_log(a, person),
    }, stored


def _iqa(reviews) -> list[dict]:
    return [
        {
            "reviewer": _name(r.reviewer),
            "outcome": r.get_outcome_display(),
            "comment": r.comment,
            "created_at": r.created_at,
        }
        for r in reviews
    ]


def _evidence(a: Apprenticeship) -> list[dict]:
    judgements = KSBJudgement.objects.select_related("mapping")
    decisions = Decision.objects.select_related("assessor").prefetch_related(
        Prefetch("iqa_reviews", queryset=IQAReview.objects.select_related("reviewer"))
    )
    items = (
        EvidenceItem.objects.filter(apprenticeship=a)
        .order_by("created_at", "pk")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=EvidenceVersion.objects.order_by("number").prefetch_related(
                    Prefetch(
                        "mappings",
                        queryset=KSBMapping.objects.select_related("ksb").prefetch_related(
                            Prefetch("judgement", queryset=judgements)
                        ),
                    ),
                    Prefetch("files", queryset=EvidenceFile.objects.order_by("uploaded_at", "pk").only("pk")),
                    Prefetch("decision", queryset=decisions),
                ),
            )
        )
    )
    result = []
    for item in items:
        versions = []
        for v in item.versions.all():
            decision = getattr(v, "decision", None)
            versions.append(
                {
                    "number": v.number,
                    "title": v.title,
                    "activity_date": v.activity_date,
                    "type": v.get_evidence_type_display(),
                    "reflection": v.reflection,
                    "created_at": v.created_at,
                    "submitted_at": v.submitted_at,
                    "files": [f.pk for f in v.files.all()],
                    "ksbs": [_mapping(m) for m in v.sorted_mappings],
                    "decision": _decision(decision) if decision else None,
                }
            )
        result.append(
            {
                "id": item.pk,
                "status": item.get_status_display(),
                "created_at": item.created_at,
                "updated_at": item.updated_at,
                "versions": versions,
            }
        )
    return result


def _mapping(m: KSBMapping) -> dict:
    judgement = getattr(m, "judgement", None)
    return {
        "ksb": m.ksb.code,
        "note": m.note,
        "judgement": {"confirmed": judgement.confirmed, "comment": judgement.comment} if judgement else None,
    }


def _decision(d: Decision) -> dict:
    return {
        "outcome": d.get_outcome_display(),
        "feedback": d.feedback,
        "assessor": _name(d.assessor),
        "decided_at": d.decided_at,
        "iqa_reviews": _iqa(d.iqa_reviews.all()),
    }


def _sign_offs(a: Apprenticeship) -> list[dict]:
    sign_offs = (
        SignOff.objects.filter(apprenticeship=a)
        .select_related("ksb", "signed_by", "revoked_by")
        .prefetch_related(
            "versions",
            Prefetch("signed_files", queryset=SignedFile.objects.order_by("pk")),
            Prefetch("iqa_reviews", queryset=IQAReview.objects.select_related("reviewer")),
        )
        .order_by("signed_at", "pk")
    )
    return [
        {
            "ksb": s.ksb.code,
            "signed_by": _name(s.signed_by),
            "signed_at": s.signed_at,
            "comment": s.comment,
            "evidence": [{"item": v.item_id, "version": v.number} for v in s.versions.all()],
            "files": [{"file": f.file_id, "sha256_at_sign_off": f.sha256} for f in s.signed_files.all()],
            "revoked_at": s.revoked_at,
            "revoked_by": _name(s.revoked_by),
            "revoke_reason": s.revoke_reason,
            "iqa_reviews": _iqa(s.iqa_reviews.all()),
        }
        for s in sign_offs
    ]


def _off_the_job(a: Apprenticeship) -> list[dict]:
    activities = (
        OTJActivity.objects.filter(apprenticeship=a)
        .select_related("logged_by", "checked_by")
        .prefetch_related("ksbs")
        .order_by("date", "pk")
    )
    return [
        {
            "date": o.date,
            "minutes": o.minutes,
            "activity_type": o.get_activity_type_display(),
            "description": o.description,
            "ksbs": sorted(k.code for k in o.ksbs.all()),
            "evidence": o.evidence_id,
            "logged_by": _name(o.logged_by),
            "logged_at": o.logged_at,
            "status": o.get_status_display(),
            "query_reason": o.query_reason,
            "checked_by": _name(o.checked_by),
            "checked_at": o.checked_at,
        }
        for o in activities
    ]


def _signatures(signatures) -> list[dict]:
    return [
        {
            "party": s.get_party_display(),
            "signer": _name(s.signer),
            "signed_at": s.signed_at,
            "content_hash": s.content_hash,
        }
        for s in signatures
    ]


def _progress_reviews(a: Apprenticeship) -> list[dict]:
    reviews = (
        ProgressReview.objects.filter(apprenticeship=a)
        # Never loaded, so nothing here can put them in the archive.
        .defer("safeguarding_concern", "safeguarding_details")
        .select_related("recorded_by")
        .prefetch_related("actions", "signatures__signer")
        .order_by("held_on", "pk")
    )
    return [
        {
            "held_on": r.held_on,
            "recorded_by": _name(r.recorded_by),
            "recorded_at": r.recorded_at,
            "updated_at": r.updated_at,
            "actions_since_last": r.actions_since_last,
            "progress_against_plan": r.progress_against_plan,
            "plan_updates": r.plan_updates,
            "wellbeing": r.wellbeing,
            "concerns": r.concerns,
            "otj_hours": {
                "logged": r.otj_logged_hours,
                "verified": r.otj_verified_hours,
                "expected": r.otj_expected_hours,
                "required": r.otj_required_hours,
            },
            "ksb_signed_off": r.ksb_signed_off,
            "ksb_total": r.ksb_total,
            "coverage": r.coverage,
            "agreed_actions": [
                {"description": x.description, "owner": x.get_owner_display(), "due_on": x.due_on}
                for x in r.actions.all()
            ],
            "signatures": _signatures(r.signatures.all()),
            "locked_at": r.locked_at,
        }
        for r in reviews
    ]


def _training_plans(a: Apprenticeship) -> list[dict]:
    plans = (
        TrainingPlan.objects.filter(apprenticeship=a)
        .select_related("created_by")
        .prefetch_related("signatures__signer")
        .order_by("version")
    )
    return [
        {
            "version": p.version,
            "planned_otj_hours": p.planned_otj_hours,
            "planned_end_date": p.planned_end_date,
            "epa_organisation": p.epa_organisation,
            "english": {"status": p.get_english_status_display(), "evidence": p.english_evidence},
            "maths": {"status": p.get_maths_status_display(), "evidence": p.maths_evidence},
            "text": p.text,
            "created_by": _name(p.created_by),
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "locked_at": p.locked_at,
            "signatures": _signatures(p.signatures.all()),
        }
        for p in plans
    ]


def _about_safeguarding(text: str) -> bool:
    # The same rule as the portfolio PDF's: an action or field about a safeguarding concern.
    return "safeguarding" in text.lower()


def _without_safeguarding(value):
    if isinstance(value, dict):
        return {k: _without_safeguarding(v) for k, v in value.items() if not _about_safeguarding(k)}
    if isinstance(value, list):
        return [_without_safeguarding(v) for v in value if not (isinstance(v, str) and _about_safeguarding(v))]
    return value


def _audit_log(a: Apprenticeship, person: User) -> list[dict]:
    """Entries about the apprenticeship: its changes, and who read its files and exports."""
    entries = (
        AuditEntry.objects.filter(Q(apprenticeship=a) | Q(apprenticeship__isnull=True, payload__apprenticeship=a.pk))
        .select_related("actor")
        .order_by("sequence")
    )
    return [
        {
            "sequence": e.sequence,
            "created_at": e.created_at,
            "actor": _name(e.actor),
            "action": e.action,
            "payload": _without_safeguarding(e.payload),
            "hash": e.hash,
        }
        for e in entries
        if not _about_safeguarding(e.action)
    ]


def _sign_ins(person: User) -> list[dict]:
    """Sign-ins and failed attempts recorded against the account's email address."""
    if not apps.is_installed("axes") or not person.email:
        return []
    records = []
    for label, kind in (("AccessLog", "signed in"), ("AccessFailureLog", "failed attempt")):
        try:
            model = apps.get_model("axes", label)
        except LookupError:
            continue
        for row in model.objects.filter(username__iexact=person.email).order_by("attempt_time"):
            records.append(
                {
                    "kind": kind,
                    "at": row.attempt_time,
                    "address": row.ip_address,
                    "browser": row.user_agent,
                    "signed_out_at": getattr(row, "logout_time", None),
                }
            )
    return sorted(records, key=lambda r: r["at"])
