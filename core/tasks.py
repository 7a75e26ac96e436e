from celery import shared_task

from core import services


@shared_task(name="core.run_async_action", acks_late=True)
def run_async_action(action_id: int) -> None:
    services.async_action_run(action_id)
