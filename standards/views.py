from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from .forms import KSBSearchForm
from .models import KSB, Standard


@login_required
def standard_list(request):
    standards = Standard.objects.annotate(ksb_count=Count("ksbs"))
    return render(request, "standards/standard_list.html", {"standards": standards})


@login_required
def standard_detail(request, reference: str, version: str):
    """The catalogue of one standard version: its KSBs by kind, narrowed by the search box."""
    standard = get_object_or_404(Standard, reference=reference.upper(), version=version)
    form = KSBSearchForm(request.GET or None)
    ksbs = standard.ksbs.all()
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        ksbs = ksbs.search(query)
    labels = dict(KSB.Kind.choices)
    groups = [(labels[kind], list(items)) for kind, items in groupby(ksbs, key=lambda ksb: ksb.kind)]
    return render(
        request,
        "standards/standard_detail.html",
        {
            "standard": standard,
            "groups": groups,
            "form": form,
            "query": query,
            "match_count": sum(len(items) for _, items in groups),
            "qualifications": standard.aligned_qualifications.all(),
        },
    )
