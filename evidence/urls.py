from django.urls import path

from . import otj_views, views

app_name = "evidence"

urlpatterns = [
    path("evidence/", views.evidence_list, name="list"),
    path("evidence/new/", views.evidence_create, name="create"),
    path("evidence/<int:pk>/", views.evidence_detail, name="detail"),
    path("evidence/<int:pk>/versions/<int:number>/", views.evidence_version, name="version"),
    path("evidence/<int:pk>/edit/", views.evidence_edit, name="edit"),
    path("evidence/<int:pk>/submit/", views.evidence_submit, name="submit"),
    path("evidence/<int:pk>/withdraw/", views.evidence_withdraw, name="withdraw"),
    path("evidence/<int:pk>/revise/", views.evidence_revise, name="revise"),
    path("evidence/<int:pk>/delete/", views.evidence_delete, name="delete"),
    path("evidence/files/<int:pk>/", views.file_download, name="file"),
    path("otj/", otj_views.my_otj_log, name="otj_mine"),
    path("apprenticeships/<int:pk>/otj/", otj_views.otj_log, name="otj_log"),
    path("apprenticeships/<int:pk>/otj/new/", otj_views.otj_new, name="otj_new"),
    path("otj/<int:pk>/edit/", otj_views.otj_edit, name="otj_edit"),
    path("otj/<int:pk>/delete/", otj_views.otj_delete, name="otj_delete"),
    path("otj/<int:pk>/verify/", otj_views.otj_verify, name="otj_verify"),
    path("otj/<int:pk>/query/", otj_views.otj_query, name="otj_query"),
]
