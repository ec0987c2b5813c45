from django.urls import path

from .views import apprentice, assessor, data, exports, gateway, iqa, mentor, programme, provider
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
    path("mentor/", mentor.mentor_home, name="mentor_home"),
    path("iqa/", iqa.iqa_home, name="iqa_home"),
    path("iqa/decisions/<int:pk>/", iqa.review_decision, name="iqa_decision"),
    path("iqa/sign-offs/<int:pk>/", iqa.review_sign_off, name="iqa_sign_off"),
    path("apprenticeships/<int:pk>/export/", exports.start_portfolio_export, name="export_portfolio"),
    path("provider/export/", exports.start_cohort_export, name="export_cohort"),
    path("exports/<int:pk>/", exports.export_status, name="export"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
    path("apprenticeships/<int:pk>/move-version/", move_version, name="move_version"),
    path("apprenticeships/<int:pk>/gateway/", gateway.gateway_page, name="gateway"),
    path("apprenticeships/<int:pk>/gateway/confirm/", gateway.confirm, name="gateway_confirm"),
    path("apprenticeships/<int:pk>/gateway/move/", gateway.move, name="gateway_move"),
    path("gateway-confirmations/<int:pk>/withdraw/", gateway.withdraw, name="gateway_withdraw"),
    path("apprenticeships/<int:pk>/progress-reviews/", programme.progress_reviews, name="progress_reviews"),
    path("apprenticeships/<int:pk>/progress-reviews/new/", programme.progress_review_new, name="progress_review_new"),
    path("progress-reviews/<int:pk>/", programme.progress_review_detail, name="progress_review"),
    path("progress-reviews/<int:pk>/edit/", programme.progress_review_edit, name="progress_review_edit"),
    path("progress-reviews/<int:pk>/sign/", programme.progress_review_sign, name="progress_review_sign"),
    path("apprenticeships/<int:pk>/training-plan/", programme.training_plan, name="training_plan"),
    path("apprenticeships/<int:pk>/training-plan/edit/", programme.training_plan_edit, name="training_plan_edit"),
    path("training-plans/<int:pk>/", programme.training_plan_version, name="training_plan_version"),
    path("training-plans/<int:pk>/sign/", programme.training_plan_sign, name="training_plan_sign"),
    path("my-data/", data.my_data, name="my_data"),
    path("my-data/export/", data.start_my_data_export, name="my_data_start"),
    path("my-data/exports/<int:pk>/", data.my_data_export, name="my_data_export"),
    path("apprenticeships/<int:pk>/erase/", data.erase_personal_data, name="erase_personal_data"),
]
