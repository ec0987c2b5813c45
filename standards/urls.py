from django.urls import path, register_converter

from . import views


class ReferenceConverter:
    """A standard's reference (ST0220, any case): letters and digits, as the importer stores them.

    Anything else is no page of ours, and never reaches a query (PostgreSQL refuses a NUL in one).
    """

    regex = "[A-Za-z0-9]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class VersionConverter(ReferenceConverter):
    """A version number: digits separated by dots (1.0, 1.10)."""

    regex = r"[0-9]+(?:\.[0-9]+)*"


register_converter(ReferenceConverter, "reference")
register_converter(VersionConverter, "version")

app_name = "standards"

urlpatterns = [
    path("", views.standard_list, name="list"),
    path("import/", views.standard_import, name="import"),
    path("<reference:reference>/compare/<version:old>/<version:new>/", views.standard_compare, name="compare"),
    path("<reference:reference>/<version:version>/", views.standard_detail, name="detail"),
    path(
        "<reference:reference>/<version:version>/otj-hours/",
        views.standard_minimum_otj_hours,
        name="minimum_otj_hours",
    ),
]
