from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.decorators import role_required
from portal.models import Apprenticeship, User
from portal.notices import unread_notices

from ..standing import awaiting_signature, standings


@role_required(User.Role.MENTOR)
def mentor_home(request: HttpRequest) -> HttpResponse:
    """The employer mentor's home: their mentees' progress, hours and reviews, and what awaits their signature."""
    mentees = list(Apprenticeship.objects.visible_to(request.user).with_people())
    standing = standings(mentees)
    reviews_to_sign, plans_to_sign = awaiting_signature(request.user, among=mentees)
    return render(
        request,
        "reviews/mentor_home.html",
        {
            "mentees": [standing[a.pk] for a in mentees],
            "reviews_to_sign": reviews_to_sign,
            "plans_to_sign": plans_to_sign,
            **unread_notices(request.user),
        },
    )
