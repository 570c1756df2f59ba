from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class DeliberationConfig(AppConfig):
    name = "deliberation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web, commands, workers), so that the
        # services can enqueue them by name (`services.enqueue`) without importing them.
        autodiscover_modules("tasks")
