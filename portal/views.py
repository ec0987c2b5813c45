from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import notices
from .decorators import role_required
from .models import Apprenticeship, Notice, User

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
