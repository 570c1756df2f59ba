from django.urls import path

from deliberation.views import moderator, moderator_questions

app_name = "moderator"
urlpatterns = [
    path("", moderator.home, name="home"),
    path("new/", moderator.deliberation_create, name="deliberation_create"),
    path("new/questions/", moderator.question_picker_fragment, name="question_picker"),
    path("questions/", moderator_questions.questions, name="questions"),
    path("d/<uuid:public_id>/", moderator.deliberation_detail, name="deliberation_detail"),
    path("d/<uuid:public_id>/groups/", moderator.groups_fragment, name="groups_fragment"),
    path("d/<uuid:public_id>/g/<int:number>/", moderator.group_detail, name="group_detail"),
]
