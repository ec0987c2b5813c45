from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "People and apprenticeships"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .middleware import stamp_sign_in

        # Connected at start-up, before anyone can sign in: a session's lifetime starts then.
        user_logged_in.connect(stamp_sign_in, dispatch_uid="portal.stamp_sign_in")
