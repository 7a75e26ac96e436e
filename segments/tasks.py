"""Background work of segments. Recomputes run as async actions (core.run_async_action calls the
SEGMENT_RECOMPUTE handler in segments.services); this task, scheduled by Celery beat
(CELERY_BEAT_SCHEDULE in settings), starts them for the segments whose filter moves with the clock."""

from celery import shared_task

from segments import services


@shared_task(name="segments.recompute_scheduled")
def recompute_scheduled() -> int:
    return len(services.recompute_scheduled())
