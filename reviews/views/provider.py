from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.decorators import role_required
from portal.models import Apprenticeship, User
from portal.notices import unread_notices

from ..cohort import CohortFilterForm, cohort_heatmap


@role_required(User.Role.PROVIDER_ADMIN)
def provider_home(request: HttpRequest) -> HttpResponse:
    """The provider admin's home: the cohort as a heatmap of KSB coverage, filtered, sorted and paged."""
    apprenticeships = Apprenticeship.objects.visible_to(request.user)
    form = CohortFilterForm(request.GET, apprenticeships=apprenticeships)
    cohort = cohort_heatmap(apprenticeships, **form.filters(), page=request.GET.get("page"))
    context = {"form": form, "cohort": cohort, **unread_notices(request.user)}
    return render(request, "reviews/provider_home.html", context)
