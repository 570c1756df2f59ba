from django.urls import path

from deliberation.views import research

app_name = "research"
urlpatterns = [
    path("", research.home, name="home"),
    path("start/", research.landing, name="landing"),
    path("d/<uuid:public_id>/data/", research.data, name="data"),
    path("exports/<uuid:job_id>/", research.export_status, name="export_status"),
    path("exports/<uuid:job_id>/download/", research.export_download, name="export_download"),
    path("tokens/", research.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", research.token_revoke, name="token_revoke"),
]
