import pytest


@pytest.fixture(autouse=True)
def _fresh_qualifications(settings):
    """Qualifications read promotions through a short-lived per-process cache; tests create them through
    the ORM (which does not refresh it), so each test reads the database."""
    from promo.qualifications import forget_cached

    settings.QUALIFICATIONS_CACHE_SECONDS = 0
    forget_cached()
