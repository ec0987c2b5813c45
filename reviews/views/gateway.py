"""The gateway page: the readiness checklist, each side's agreement, and the move to gateway."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal.decorators import role_required
from portal.models import Apprenticeship, User

from .. import gateway
from ..models import GatewayConfirmation


class GatewayConfirmForm(forms.Form):
    comment = forms.CharField(
        label="Comment (optional)",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Anything the other side or the assessment organisation should know.",
    )


def _visible(request, pk: int) -> Apprenticeship:
    return get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)


def _page(request, apprenticeship: Apprenticeship, form: GatewayConfirmForm | None = None):
    checklist = gateway.gateway_checklist(apprenticeship)
    party = gateway.confirming_party(request.user, apprenticeship)
    active = apprenticeship.status == Apprenticeship.Status.ACTIVE
    mine = checklist.confirmations.get(party) if party else None
    return render(
        request,
        "reviews/gateway.html",
        {
            "apprenticeship": apprenticeship,
            "checklist": checklist,
            "party_label": GatewayConfirmation.Party(party).label.lower() if party else "",
            # A refused form is shown again, with its message and what was typed, whatever the state.
            "confirm_form": form or (GatewayConfirmForm() if party and active and mine is None else None),
            "withdrawable": mine if active else None,
            "may_move": gateway.may_move_to_gateway(request.user, apprenticeship) and active,
        },
    )


@login_required
def gateway_page(request, pk: int):
    return _page(request, _visible(request, pk))


@login_required
@require_POST
def confirm(request, pk: int):
    apprenticeship = _visible(request, pk)
    if gateway.confirming_party(request.user, apprenticeship) is None:
        raise PermissionDenied("Only the apprentice's employer mentor, their assessor or a provider admin confirms.")
    form = GatewayConfirmForm(request.POST)
    if form.is_valid():
        try:
            gateway.confirm_gateway_readiness(
                apprenticeship=apprenticeship, by=request.user, comment=form.cleaned_data["comment"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"You confirmed that {apprenticeship.apprentice} is ready for gateway.")
            return redirect("reviews:gateway", apprenticeship.pk)
    # Shown again with the message and what was typed.
    return _page(request, apprenticeship, form)


@login_required
@require_POST
def withdraw(request, pk: int):
    confirmation = get_object_or_404(GatewayConfirmation.objects.visible_to(request.user), pk=pk)
    try:
        gateway.withdraw_gateway_confirmation(confirmation=confirmation, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"The {confirmation.get_party_display().lower()}'s confirmation was withdrawn.")
    return redirect("reviews:gateway", confirmation.apprenticeship_id)


@role_required(User.Role.PROVIDER_ADMIN)
@require_POST
def move(request, pk: int):
    apprenticeship = _visible(request, pk)
    try:
        export = gateway.move_to_gateway(apprenticeship=apprenticeship, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("reviews:gateway", apprenticeship.pk)
    messages.success(
        request, f"{apprenticeship.apprentice} is at gateway. Their portfolio PDF is being made for the assessment."
    )
    return redirect(export)
