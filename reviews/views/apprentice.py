from django.shortcuts import render

from evidence.models import EvidenceItem
from portal.decorators import role_required
from portal.models import Apprenticeship, Notice, User

from ..charts import activity_over_time
from ..duties import duties_of, duty_coverage
from ..models import Decision
from ..progress import progress_of

NOTICES_SHOWN = 3


@role_required(User.Role.APPRENTICE)
def apprentice_home(request):
    """The apprentice's home: coverage of every KSB, progress, notices and what needs their action."""
    apprenticeship = Apprenticeship.objects.current_of(request.user)
    if apprenticeship is None:
        return render(request, "evidence/no_apprenticeship.html")
    items = EvidenceItem.objects.filter(apprenticeship=apprenticeship)
    unread = list(Notice.objects.filter(recipient=request.user, read_at__isnull=True)[:50])
    # The feedback to act on: the latest decision on each item now returned.
    latest: dict[int, Decision] = {}
    for decision in (
        Decision.objects.filter(version__item__in=items.filter(status=EvidenceItem.Status.RETURNED))
        .select_related("version__item", "assessor")
        .order_by("decided_at", "pk")
    ):
        latest[decision.version.item_id] = decision
    coverage = progress_of(apprenticeship)
    return render(
        request,
        "reviews/apprentice_home.html",
        {
            "apprenticeship": apprenticeship,
            "coverage": coverage,
            "activity": activity_over_time(apprenticeship),
            "duties": duty_coverage(coverage, duties_of(apprenticeship.standard)),
            "returned": list(latest.values()),
            "drafts": items.filter(status=EvidenceItem.Status.DRAFT).with_versions(),
            "item_count": items.count(),
            # The newest few; the rest are counted, so the page never opens on a wall of notices.
            "notices": unread[:NOTICES_SHOWN],
            "more_notices": max(0, len(unread) - NOTICES_SHOWN),
        },
    )
