from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Console"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from . import login

        user_login_failed.connect(login.on_login_failed, dispatch_uid="dashboard.login.failed")
        user_logged_in.connect(login.on_logged_in, dispatch_uid="dashboard.login.succeeded")
