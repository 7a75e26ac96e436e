from django.apps import AppConfig


class GiftcardsConfig(AppConfig):
    name = "giftcards"
    verbose_name = "Gift cards"

    def ready(self):
        from core.permissions import register_scoped_model
        from customers.export import register_export_part
        from customers.selectors import register_redemption_summary
        from giftcards import handlers, segment_fields, selectors, services, tasks  # noqa: F401  (tasks: async action, beat jobs)
        from promo import campaigns, registry
        from promo.models import Campaign, Voucher

        registry.register_handler(handlers.GiftCardHandler())
        segment_fields.register()
        campaigns.register_voucher_kind(Voucher.Type.GIFT_VOUCHER, campaigns.VoucherKind(
            campaign_type=Campaign.CampaignType.GIFT_VOUCHERS, clean=services.clean_voucher_fields,
            created=services.on_voucher_created, generated=services.on_vouchers_generated,
            code_space_per_code=services.GIFT_CODE_SPACE_PER_CODE, expiration=services.card_expiration,
            import_csv=services.import_csv_start))
        register_redemption_summary(selectors.customer_gift_summary)
        register_export_part("giftcards.giftcard", selectors.cards_held_by)
        register_export_part("giftcards.giftcardtransaction", selectors.card_transactions_held_by)
        # A card, its ledger, credits and reservations are in its voucher's campaign category.
        for model, voucher in (("GiftCard", "voucher"), ("GiftCardTransaction", "card__voucher"),
                               ("GiftCardCredit", "card__voucher"), ("GiftCardReservation", "card__voucher")):
            register_scoped_model(f"giftcards.{model}", campaign=f"{voucher}__campaign",
                                  category=f"{voucher}__category")
