"""The Celery broker as seen by the readiness check and the queue-length metric: one small client per
process, short timeouts (a probe must answer quickly even when the broker does not)."""

from functools import lru_cache

from django.conf import settings

TIMEOUT_SECONDS = 1.0


def is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)


def ping() -> str | None:
    url = settings.CELERY_BROKER_URL
    if is_redis(url):
        _redis(url).ping()
        return None
    from kombu import Connection

    with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1)
    return None


def queue_lengths(queues: list[str]) -> dict[str, int] | None:
    """Messages waiting in each queue (Redis brokers: the queue is a list), or None when not measurable."""
    url = settings.CELERY_BROKER_URL
    if not is_redis(url):
        return None
    client = _redis(url)
    with client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute(), strict=True))
