"""The root URLs: the site's own pages and every app's URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import floor, views
from .forms import QueuedPasswordResetForm, SignInForm

portal_patterns = [
    path("home/", views.role_home, name="role_home"),
    path("apprenticeships/<int:pk>/break/", views.apprenticeship_break, name="break"),
    path("apprenticeships/<int:pk>/planned-end-date/", views.planned_end_date, name="planned_end_date"),
]

account_patterns = [
    path(
        "sign-in/",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("sign-out/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(form_class=QueuedPasswordResetForm),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("floor/", floor.floor, name="floor"),
    path("notices/<int:pk>/dismiss/", views.dismiss_notice, name="dismiss_notice"),
    path("notices/dismiss/", views.dismiss_all_notices, name="dismiss_all_notices"),
    path("accounts/", include(account_patterns)),
    path("", include((portal_patterns, "portal"))),
    path("standards/", include("standards.urls")),
    path("", include("evidence.urls")),
    path("", include("reviews.urls")),
    path("admin/", admin.site.urls),
]
