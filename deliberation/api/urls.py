from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import AllowAny

from deliberation.api import views

REDOC_CSP = {"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]}

app_name = "api"
urlpatterns = [
    path("deliberations/", views.DeliberationList.as_view(), name="deliberations"),
    path(
        "deliberations/<uuid:public_id>/",
        views.DeliberationDetail.as_view(),
        name="deliberation",
    ),
    path("groups/", views.GroupList.as_view(), name="groups"),
    path("rounds/", views.RoundList.as_view(), name="rounds"),
    path("iterations/", views.IterationList.as_view(), name="iterations"),
    path("iterations/<int:pk>/", views.IterationDetail.as_view(), name="iteration"),
    path("ratings/", views.RatingList.as_view(), name="ratings"),
    path("rankings/", views.RankingList.as_view(), name="rankings"),
    path("questions/", views.QuestionList.as_view(), name="questions"),
    path("questions/import/", views.QuestionImport.as_view(), name="questions_import"),
    path("exports/", views.ExportListCreate.as_view(), name="exports"),
    path("exports/<uuid:public_id>/", views.ExportDetail.as_view(), name="export"),
    path(
        "exports/<uuid:public_id>/download/",
        views.ExportDownload.as_view(),
        name="export_download",
    ),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[AllowAny]),
        name="docs",
    ),
    # Redoc styles itself with <style> elements it makes at run time, and searches in a worker.
    path(
        "redoc/",
        csp_update(REDOC_CSP)(
            SpectacularRedocView.as_view(url_name="api:schema", permission_classes=[AllowAny])
        ),
        name="redoc",
    ),
]
