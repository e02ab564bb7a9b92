from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("v1/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("dashboard.urls")),
]
