app_name = "moderator"
urlpatterns = []
