"""Background work of campaigns and codes.

Long operations run as async actions (core.services): the Celery task core.run_async_action calls
the handler registered for the action's type. The handlers are service functions in
promo.campaigns (code generation, CSV import, bulk updates, campaign deletion); importing this
module registers them. It is imported by promo.api.campaign_urls and promo.admin (admin
autodiscovery imports it in every process, Celery workers included).
"""

from promo import campaigns  # noqa: F401  (registers CAMPAIGN_VOUCHERS_GENERATE, VOUCHERS_IMPORT_CSV, ...)

ASYNC_ACTION_TYPES = (campaigns.GENERATE_ACTION, campaigns.IMPORT_ACTION, campaigns.BULK_ACTION,
                      campaigns.METADATA_ACTION, campaigns.DELETE_ACTION)
