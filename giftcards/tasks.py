"""Scheduled gift card jobs (celery beat, see CELERY_BEAT_SCHEDULE in settings) and the bulk-issue async
action (importing this module registers it). Thin: the work is in giftcards.services."""

from celery import shared_task

from giftcards import services

ASYNC_ACTION_TYPES = (services.BULK_ACTION,)


@shared_task(name="giftcards.expire_credits", acks_late=True)
def expire_credits() -> dict:
    """Remove temporary credit past its time (an expiry row in each card's ledger)."""
    return services.expire_credits()


@shared_task(name="giftcards.issue_birthday_cards", acks_late=True)
def issue_birthday_cards() -> dict:
    """Once a day: a card for each customer whose birthday it is (at most once a year each)."""
    return services.issue_birthday_cards()
