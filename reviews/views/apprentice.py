from django.shortcuts import render

from evidence.models import EvidenceItem
from evidence.otj import otj_summary_of
from portal.decorators import role_required
from portal.models import Apprenticeship, User
from portal.notices import unread_notices

from ..charts import activity_over_time
from ..duties import duties_of, duty_coverage
from ..models import Decision, TrainingPlan
from ..progress import progress_of
from ..schedule import review_status_of
from ..standing import awaiting_signature


@role_required(User.Role.APPRENTICE)
def apprentice_home(request):
    """The apprentice's home: KSB coverage, off-the-job hours, reviews, notices and what needs their action."""
    apprenticeship = Apprenticeship.objects.current_of(request.user)
    if apprenticeship is None:
        return render(request, "evidence/no_apprenticeship.html")
    items = EvidenceItem.objects.filter(apprenticeship=apprenticeship)
    # The feedback to act on: the latest decision on each item now returned.
    latest: dict[int, Decision] = {}
    for decision in (
        Decision.objects.filter(version__item__in=items.filter(status=EvidenceItem.Status.RETURNED))
        .select_related("version__item", "assessor")
        .order_by("decided_at", "pk")
    ):
        latest[decision.version.item_id] = decision
    coverage = progress_of(apprenticeship)
    reviews_to_sign, plans_to_sign = awaiting_signature(request.user)
    return render(
        request,
        "reviews/apprentice_home.html",
        {
            "apprenticeship": apprenticeship,
            "coverage": coverage,
            "activity": activity_over_time(apprenticeship),
            "duties": duty_coverage(coverage, duties_of(apprenticeship.standard)),
            "returned": list(latest.values()),
            # Listed by title only: their versions, not their files and mappings.
            "drafts": items.filter(status=EvidenceItem.Status.DRAFT).prefetch_related("versions"),
            "item_count": items.count(),
            "otj": otj_summary_of(apprenticeship),
            "review_status": review_status_of(apprenticeship),
            "plan": TrainingPlan.objects.filter(apprenticeship=apprenticeship).first(),
            "reviews_to_sign": reviews_to_sign,
            "plans_to_sign": plans_to_sign,
            **unread_notices(request.user),
        },
    )
