app_name = "deliberation"
urlpatterns = []
