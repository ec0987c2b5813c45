from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

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
