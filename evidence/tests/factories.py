import datetime

from evidence import services
from evidence.models import EvidenceItem
from evidence.tests.samples import upload


def evidence(
    apprenticeship,
    *,
    title: str = "Internal quality control on the haematology analyser",
    codes: tuple[str, ...] = ("K1",),
    files: tuple[str, ...] = ("qc-chart.png",),
    evidence_type: str = EvidenceItem.Type.OBSERVATION,
    submit: bool = False,
    reflection: str = "I ran the morning QC, spotted a shift and recalibrated with my supervisor.",
) -> EvidenceItem:
    """An item made the way an apprentice makes one: through the services."""
    standard = apprenticeship.standard
    ksbs = {}
    for code in codes:
        kind, number = code[0], int(code[1:])
        ksbs[standard.ksbs.get(kind=kind, number=number)] = f"Shows {code} in practice"
    item = services.create_evidence(
        apprenticeship=apprenticeship,
        by=apprenticeship.apprentice,
        title=title,
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=evidence_type,
        reflection=reflection,
        mappings=ksbs,
        uploads=[upload(name) for name in files],
    )
    if submit:
        services.submit_evidence(item=item, by=apprenticeship.apprentice)
        item.refresh_from_db()
    return item


def portfolio_of_200(apprenticeship):
    """200 items spread over all 65 KSBs: a quarter drafts, a quarter accepted, the rest submitted."""
    ksbs = list(apprenticeship.standard.ksbs.all())
    apprentice = apprenticeship.apprentice
    for n in range(200):
        mapped = {ksbs[(n * 3 + k) % 65]: f"note {k}" for k in range(3)}
        item = services.create_evidence(
            apprenticeship=apprenticeship,
            by=apprentice,
            title=f"Item {n}",
            activity_date=datetime.date(2025, 10, 1),
            evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT,
            reflection="Reflection",
            mappings=mapped,
        )
        if n % 4:
            services.submit_evidence(item=item, by=apprentice)
        if n % 4 == 2:
            item.refresh_from_db()
            item.accept()
            item.save()
    return apprenticeship


def otj_activity(apprenticeship, *, on=datetime.date(2025, 10, 6), hours=3, status=None, by=None, **fields):
    """An off-the-job entry written straight to the table, for tests about sums and pages."""
    from evidence.models import OTJActivity

    activity = OTJActivity.objects.create(
        apprenticeship=apprenticeship,
        date=on,
        minutes=round(hours * 60),
        activity_type=fields.pop("activity_type", OTJActivity.Type.TEACHING),
        description=fields.pop("description", "Haematology theory session with the training lead"),
        logged_by=by or apprenticeship.apprentice,
        status=status or OTJActivity.Status.LOGGED,
        **fields,
    )
    return activity
