from django.urls import path

from .views import apprentice, assessor, exports, iqa, provider
from .views.versions import move_version

app_name = "reviews"

urlpatterns = [
    path("portfolio/", apprentice.apprentice_home, name="apprentice_home"),
    path("assessor/", assessor.assessor_home, name="assessor_home"),
    path("reviews/evidence/<int:pk>/", assessor.review_evidence, name="review"),
    path("apprenticeships/<int:pk>/", assessor.apprenticeship_progress, name="apprenticeship"),
    path("apprenticeships/<int:pk>/ksbs/<str:code>/", assessor.ksb_detail, name="ksb"),
    path("sign-offs/<int:pk>/revoke/", assessor.revoke, name="revoke"),
    path("provider/", provider.provider_home, name="provider_home"),
    path("iqa/", iqa.iqa_home, name="iqa_home"),
    path("iqa/decisions/<int:pk>/", iqa.review_decision, name="iqa_decision"),
    path("iqa/sign-offs/<int:pk>/", iqa.review_sign_off, name="iqa_sign_off"),
    path("apprenticeships/<int:pk>/export/", exports.start_portfolio_export, name="export_portfolio"),
    path("provider/export/", exports.start_cohort_export, name="export_cohort"),
    path("exports/<int:pk>/", exports.export_status, name="export"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
    path("apprenticeships/<int:pk>/move-version/", move_version, name="move_version"),
]
