from django.urls import path

from deliberation.views import participant

app_name = "deliberation"

urlpatterns = [
    path("", participant.index, name="index"),
    path("healthz/", participant.healthz, name="healthz"),
    path("j/<uuid:public_id>/", participant.join, name="join"),
    path("j/<uuid:public_id>/go/", participant.step, name="step"),
    path("j/<uuid:public_id>/status/", participant.status, name="status"),
    path("j/<uuid:public_id>/opinion/<int:iteration_id>/", participant.opinion, name="opinion"),
    path("j/<uuid:public_id>/critique/<int:iteration_id>/", participant.critique, name="critique"),
    path("j/<uuid:public_id>/rate/<int:statement_id>/", participant.rate, name="rate"),
]
