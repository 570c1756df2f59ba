from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("deliberation.api.urls", namespace="api")),
    path("research/", include("deliberation.urls_research", namespace="research")),
    path("moderate/", include("deliberation.urls_moderator", namespace="moderator")),
    path("", include("deliberation.urls", namespace="deliberation")),
]
