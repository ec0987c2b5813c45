from functools import wraps
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .diff import compare_ksbs
from .forms import KSBSearchForm, MinimumOTJHoursForm, StandardImportForm
from .importer import ImportRefused, import_standards
from .models import KSB, Standard
from .services import may_import, set_minimum_otj_hours


def importers_only(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not may_import(request.user):
            raise PermissionDenied("Only a provider admin does this.")
        return view(request, *args, **kwargs)

    return wrapped


@login_required
def standard_list(request):
    standards = Standard.objects.annotate(ksb_count=Count("ksbs"))
    return render(
        request, "standards/standard_list.html", {"standards": standards, "may_import": may_import(request.user)}
    )


def _render_detail(request, standard: Standard, otj_form: MinimumOTJHoursForm | None = None):
    """The catalogue of one standard version: its KSBs by kind, narrowed by the search box."""
    form = KSBSearchForm(request.GET or None)
    ksbs = standard.ksbs.all()
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        ksbs = ksbs.search(query)
    labels = dict(KSB.Kind.choices)
    groups = [(labels[kind], list(items)) for kind, items in groupby(ksbs, key=lambda ksb: ksb.kind)]
    if otj_form is None and may_import(request.user):
        otj_form = MinimumOTJHoursForm(initial={"hours": standard.minimum_otj_hours})
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
            "duties": standard.duties.prefetch_related("ksbs", "options"),
            "options": standard.options.all(),
            "other_versions": standard.other_versions(),
            "otj_form": otj_form,
        },
    )


@login_required
def standard_detail(request, reference: str, version: str):
    standard = get_object_or_404(Standard, reference=reference.upper(), version=version)
    return _render_detail(request, standard)


@importers_only
@require_POST
def standard_minimum_otj_hours(request, reference: str, version: str):
    """Sets the minimum off-the-job hours published for the standard; a problem shows on its page."""
    standard = get_object_or_404(Standard, reference=reference.upper(), version=version)
    form = MinimumOTJHoursForm(request.POST)
    if form.is_valid():
        try:
            set_minimum_otj_hours(standard=standard, hours=form.cleaned_data["hours"], by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            hours = form.cleaned_data["hours"]
            messages.success(
                request,
                f"Minimum off-the-job hours set to {hours}." if hours else "Minimum off-the-job hours cleared.",
            )
            return redirect(standard)
    return _render_detail(request, standard, otj_form=form)


@login_required
def standard_compare(request, reference: str, old: str, new: str):
    """What changed from one version of a standard to another: KSBs added, removed, reworded."""
    versions = {s.version: s for s in Standard.objects.filter(reference=reference.upper(), version__in=[old, new])}
    if old not in versions or new not in versions:
        raise Http404("No such version of this standard.")
    changes = compare_ksbs(versions[old].ksbs.all(), versions[new].ksbs.all())
    return render(
        request,
        "standards/standard_compare.html",
        {"old": versions[old], "new": versions[new], "changes": changes},
    )


@importers_only
def standard_import(request):
    """Upload a standard's JSON as the public standards API gives it."""
    form = StandardImportForm(request.POST, request.FILES) if request.method == "POST" else StandardImportForm()
    if form.is_bound and form.is_valid():
        try:
            outcomes = import_standards(form.cleaned_data["file"])
        except ImportRefused as refused:
            for problem in refused.problems:
                form.add_error("file", problem)
        else:
            for outcome in outcomes:
                messages.success(request, outcome.summary)
            if len(outcomes) == 1:
                return redirect(outcomes[0].standard)
            return redirect("standards:list")
    return render(request, "standards/standard_import.html", {"form": form})
