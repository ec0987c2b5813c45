"""Steps of the review workflow for tests, taken through the services as people take them."""

from evidence.tests.factories import evidence
from reviews import services


def ksb(apprenticeship, code: str):
    return apprenticeship.standard.ksbs.get(kind=code[0], number=int(code[1:]))


def accepted(apprenticeship, *, codes=("K1",), untick=(), **kwargs):
    """A submitted item the assessor has accepted, confirming `codes` except those in `untick`."""
    item = evidence(apprenticeship, codes=codes, submit=True, **kwargs)
    version = item.versions.get()
    judgements = {m.pk: (m.ksb.code not in untick, "") for m in version.mappings.select_related("ksb")}
    services.accept_evidence(item=item, by=apprenticeship.assessor, judgements=judgements)
    item.refresh_from_db()
    return item


def signed_off(apprenticeship, code: str = "K1", **kwargs):
    item = accepted(apprenticeship, codes=(code,), **kwargs)
    return services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=ksb(apprenticeship, code),
        versions=[item.versions.get()],
        by=apprenticeship.assessor,
        comment=f"The evidence shows {code} clearly.",
    )
