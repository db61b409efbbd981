from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "ECG Review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the single sign-on system check (a half-configured provider stops every command).
        from annotations import single_sign_on  # noqa: F401
