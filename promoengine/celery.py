import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promoengine.settings")

app = Celery("promoengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_failure.connect
def _count_task_failure(sender=None, **kwargs):
    """Metrics only (core/metrics.py): a task that raised, by name."""
    from core import metrics

    metrics.task_failed(getattr(sender, "name", "unknown"))


@signals.worker_process_shutdown.connect
def _forget_process_gauges(pid=None, **kwargs):
    """Multi-process metrics: the ending pool process's live gauges go (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
