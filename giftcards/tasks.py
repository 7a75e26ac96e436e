"""Scheduled gift card jobs (celery beat, see CELERY_BEAT_SCHEDULE in settings) and the bulk-issue async
action (importing this module registers it). Thin: the work is in giftcards.services."""

from celery import shared_task

from giftcards import services

ASYNC_ACTION_TYPES = (services.BULK_ACTION, services.IMPORT_ACTION)


@shared_task(name="giftcards.expire_credits", acks_late=True)
def expire_credits() -> dict:
    """Remove temporary credit past its time (an expiry row in each card's ledger) and release expired
    validation-session reservations."""
    return services.expire_credits()


@shared_task(name="giftcards.issue_birthday_cards", acks_late=True)
def issue_birthday_cards() -> dict:
    """Once a day: a card for each customer whose birthday it is (at most once a year each)."""
    return services.issue_birthday_cards()


@shared_task(name="giftcards.write_off_expired", acks_late=True)
def write_off_expired() -> dict:
    """Daily: write off the balance of cards expired more than GIFTCARD_EXPIRY_WRITE_OFF_DAYS ago
    (0: disabled), never where the card's country law forbids expiry."""
    return services.write_off_expired()
