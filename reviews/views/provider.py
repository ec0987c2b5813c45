from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.decorators import role_required
from portal.models import Apprenticeship, User
from portal.notices import unread_notices

from ..cohort import CohortFilterForm, cohort_heatmap
from ..templatetags.coverage_cells import drawn_rows


@role_required(User.Role.PROVIDER_ADMIN)
def provider_home(request: HttpRequest) -> HttpResponse:
    """The provider admin's home: the cohort as a heatmap of KSB coverage, filtered, sorted and paged."""
    apprenticeships = Apprenticeship.objects.visible_to(request.user)
    form = CohortFilterForm(request.GET, apprenticeships=apprenticeships)
    cohort = cohort_heatmap(apprenticeships, **form.filters(), page=request.GET.get("page"))
    # Each row's strip and counts as drawn, cached until its apprentice's evidence or signers change.
    drawn = drawn_rows([row.coverage for row in cohort.rows])
    context = {"form": form, "cohort": cohort, "rows": list(zip(cohort.rows, drawn, strict=True))}
    context.update(unread_notices(request.user))
    return render(request, "reviews/provider_home.html", context)
