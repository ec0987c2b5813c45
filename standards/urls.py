from django.urls import path

from . import views

app_name = "standards"

urlpatterns = [
    path("", views.standard_list, name="list"),
    path("import/", views.standard_import, name="import"),
    path("<str:reference>/compare/<str:old>/<str:new>/", views.standard_compare, name="compare"),
    path("<str:reference>/<str:version>/", views.standard_detail, name="detail"),
    path("<str:reference>/<str:version>/otj-hours/", views.standard_minimum_otj_hours, name="minimum_otj_hours"),
]
