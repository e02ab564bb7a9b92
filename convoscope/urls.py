from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dashboard.login import LoginView

urlpatterns = [
    path("v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Django's login view with login throttling (dashboard/login.py); the rest of accounts/ as Django has it.
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("dashboard.urls")),
]

# Uncaught errors: a lost database answers 503 (JSON under /v1, a page for the console), never a bare 500.
handler500 = "convoscope.errors.server_error"
