import datetime

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from .mail import queue_email


class SignInForm(AuthenticationForm):
    username = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autofocus": True}))

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account. Both are case-sensitive "
        "except the email address.",
    }


class QueuedPasswordResetForm(PasswordResetForm):
    """Sends the reset link through the task queue so the page never waits on the mail server."""

    def send_mail(
        self, subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name=None
    ) -> None:
        queue_email(
            to=[to_email], subject_template=subject_template_name, body_template=email_template_name, context=context
        )


DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

# No apprenticeship is planned to run this far ahead: a later date is a slip of the keyboard (2205
# for 2025), and one near the calendar's end could not be moved on by a break in learning.
PLANNED_END_YEARS_AHEAD = 10


def validate_planned_end_date(value: datetime.date) -> None:
    """Refuses a planned end date more than PLANNED_END_YEARS_AHEAD years from today."""
    today = timezone.localdate()
    latest = today + datetime.timedelta(days=round(365.25 * PLANNED_END_YEARS_AHEAD))
    if value > latest:
        raise ValidationError(
            f"A planned end date is at most {PLANNED_END_YEARS_AHEAD} years ahead, by {latest:%-d %B %Y}: "
            "check the year."
        )


class StartBreakForm(forms.Form):
    starts_on = forms.DateField(label="First day of the break", widget=DATE_WIDGET)
    reason = forms.CharField(
        max_length=300,
        help_text="E.g. illness, parental leave, a change of job. The apprentice sees that a break was recorded.",
        error_messages={"required": "Say why the apprentice is taking a break, e.g. illness or parental leave."},
    )


class EndBreakForm(forms.Form):
    ends_on = forms.DateField(label="Last day of the break", widget=DATE_WIDGET)
    new_planned_end_date = forms.DateField(
        label="New planned end date",
        required=False,
        widget=DATE_WIDGET,
        validators=[validate_planned_end_date],
        help_text="Leave empty to move the planned end date later by the length of the break.",
    )


class PlannedEndDateForm(forms.Form):
    planned_end_date = forms.DateField(
        label="New planned end date", widget=DATE_WIDGET, validators=[validate_planned_end_date]
    )
    reason = forms.CharField(
        max_length=300,
        help_text="E.g. the training plan was revised; kept in the audit log.",
        error_messages={"required": "Say why the planned end date changes."},
    )
