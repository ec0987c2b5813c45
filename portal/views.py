from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import notices, services
from .decorators import role_required
from .forms import EndBreakForm, PlannedEndDateForm, StartBreakForm
from .models import Apprenticeship, Notice, User

# A break starts from active learning and ends from a break; other statuses offer neither.
BREAK_STATUSES = (Apprenticeship.Status.ACTIVE, Apprenticeship.Status.BREAK_IN_LEARNING)

HOME_HEADINGS = {
    User.Role.APPRENTICE: "My apprenticeship",
    User.Role.ASSESSOR: "My caseload",
    User.Role.MENTOR: "Apprentices I mentor",
    User.Role.PROVIDER_ADMIN: "Our apprentices",
    User.Role.IQA: "Apprentices to sample",
}


@login_required
def home(request):
    """`/` sends each person to the home page of their role."""
    user = request.user
    if user.role:
        return redirect(settings.ROLE_HOME_URL_NAMES[user.role])
    if user.is_staff:
        return redirect("admin:index")
    return render(request, "portal/no_role.html", status=403)


@role_required(*User.Role.values)
def role_home(request):
    apprenticeships = Apprenticeship.objects.visible_to(request.user).with_people()
    return render(
        request,
        "portal/home.html",
        {"heading": HOME_HEADINGS[User.Role(request.user.role)], "apprenticeships": apprenticeships},
    )


@login_required
@require_POST
def dismiss_notice(request, pk: int):
    notice = get_object_or_404(Notice, pk=pk, recipient=request.user)
    notices.dismiss_notice(notice=notice, by=request.user)
    return redirect("home")


@login_required
@require_POST
def dismiss_all_notices(request):
    notices.dismiss_all_notices(by=request.user)
    return redirect("home")


# --- Breaks in learning and the planned end date ------------------------------------------------


def _managed_apprenticeship(request, pk: int) -> Apprenticeship:
    """404 for an apprenticeship this person may not see; 403 when they may see it but not change it."""
    apprenticeship = get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)
    if not services.may_manage_programme(request.user, apprenticeship):
        raise PermissionDenied("Only an admin of the provider, or the apprentice's assessor, changes the programme.")
    return apprenticeship


@login_required
def apprenticeship_break(request, pk: int):
    """Starts a break when learning is active, ends it when on one; lists the breaks so far."""
    apprenticeship = _managed_apprenticeship(request, pk)
    breaks = list(apprenticeship.breaks.select_related("recorded_by"))
    on_break = apprenticeship.status == Apprenticeship.Status.BREAK_IN_LEARNING
    open_break = next((b for b in breaks if b.ends_on is None), None)
    form_class = EndBreakForm if on_break else StartBreakForm
    form = form_class(request.POST or None) if apprenticeship.status in BREAK_STATUSES else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            if on_break:
                services.end_break(apprenticeship=apprenticeship, by=request.user, **form.cleaned_data)
            else:
                services.start_break(apprenticeship=apprenticeship, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            apprenticeship.refresh_from_db()
            if on_break:
                messages.success(
                    request,
                    f"Break ended. The planned end date is now {apprenticeship.planned_end_date:%-d %B %Y}.",
                )
            else:
                messages.success(request, "Break in learning recorded; the off-the-job clock is paused.")
            return redirect("portal:break", apprenticeship.pk)
    template = "portal/break_end.html" if on_break else "portal/break_start.html"
    return render(
        request,
        template,
        {"apprenticeship": apprenticeship, "form": form, "breaks": breaks, "open_break": open_break},
    )


@login_required
def planned_end_date(request, pk: int):
    apprenticeship = _managed_apprenticeship(request, pk)
    form = PlannedEndDateForm(request.POST or None, initial={"planned_end_date": apprenticeship.planned_end_date})
    if request.method == "POST" and form.is_valid():
        try:
            services.change_planned_end_date(apprenticeship=apprenticeship, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"The planned end date is now {form.cleaned_data['planned_end_date']:%-d %B %Y}.")
            return redirect("portal:planned_end_date", apprenticeship.pk)
    return render(request, "portal/planned_end_date.html", {"apprenticeship": apprenticeship, "form": form})
