from django.urls import path

from .views import apprentice, assessor, iqa, provider

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
]
