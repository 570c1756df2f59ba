from django.urls import path

from deliberation.views import (
    moderator,
    moderator_consent,
    moderator_lifecycle,
    moderator_questions,
    results,
    sharing,
)

app_name = "moderator"
urlpatterns = [
    path("", moderator.home, name="home"),
    path("new/", moderator.deliberation_create, name="deliberation_create"),
    path("new/questions/", moderator.question_picker_fragment, name="question_picker"),
    path("questions/", moderator_questions.questions, name="questions"),
    path("d/<uuid:public_id>/", moderator.deliberation_detail, name="deliberation_detail"),
    path("d/<uuid:public_id>/edit/", moderator.deliberation_edit, name="deliberation_edit"),
    path("d/<uuid:public_id>/share/", sharing.share, name="share"),
    path(
        "d/<uuid:public_id>/share/<int:share_id>/remove/",
        sharing.share_remove,
        name="share_remove",
    ),
    path("d/<uuid:public_id>/consent/", moderator_consent.consent_edit, name="consent_edit"),
    path("d/<uuid:public_id>/clone/", moderator_lifecycle.clone, name="deliberation_clone"),
    path("d/<uuid:public_id>/archive/", moderator_lifecycle.archive, name="deliberation_archive"),
    path("d/<uuid:public_id>/restore/", moderator_lifecycle.restore, name="deliberation_restore"),
    path("d/<uuid:public_id>/status/", moderator.deliberation_status, name="deliberation_status"),
    path("d/<uuid:public_id>/groups/", moderator.groups_fragment, name="groups_fragment"),
    path("d/<uuid:public_id>/results/", results.deliberation_results, name="results"),
    path("d/<uuid:public_id>/results/<slug:table>.csv", results.results_csv, name="results_csv"),
    path("d/<uuid:public_id>/results/<slug:chart>.svg", results.results_svg, name="results_svg"),
    path("d/<uuid:public_id>/g/<int:number>/", moderator.group_detail, name="group_detail"),
    path("d/<uuid:public_id>/g/<int:number>/now/", moderator.group_now, name="group_now"),
    path("d/<uuid:public_id>/g/<int:number>/end/", moderator.group_end, name="group_end"),
    path(
        "d/<uuid:public_id>/g/<int:number>/<slug:kind>/<int:text_id>/hide/",
        moderator.text_hide,
        name="text_hide",
    ),
    path(
        "d/<uuid:public_id>/g/<int:number>/<slug:kind>/<int:text_id>/unhide/",
        moderator.text_unhide,
        name="text_unhide",
    ),
    path(
        "d/<uuid:public_id>/g/<int:number>/i/<int:iteration_id>/retry/",
        moderator.iteration_retry_view,
        name="iteration_retry",
    ),
    path(
        "d/<uuid:public_id>/g/<int:number>/i/<int:iteration_id>/extend/",
        moderator.iteration_extend,
        name="iteration_extend",
    ),
]
