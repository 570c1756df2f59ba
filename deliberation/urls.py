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
    path("j/<uuid:public_id>/rank/<int:iteration_id>/", participant.rank, name="rank"),
    path(
        "j/<uuid:public_id>/position/<int:round_id>/<int:index>/",
        participant.position,
        name="position",
    ),
    path(
        "j/<uuid:public_id>/final/<int:round_id>/", participant.final_ranking, name="final_ranking"
    ),
    path("j/<uuid:public_id>/survey/<int:round_id>/", participant.survey, name="survey"),
    path("j/<uuid:public_id>/complete/", participant.complete, name="complete"),
    path("j/<uuid:public_id>/leave/", participant.leave, name="leave"),
    path("j/<uuid:public_id>/here/", participant.heartbeat, name="heartbeat"),
]
