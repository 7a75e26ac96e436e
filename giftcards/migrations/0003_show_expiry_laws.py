"""Cards issued to a holder before the voucher's `gift` JSON carried `expiry_law`: add it, so that the
voucher's expiration_date stops falling back to the campaign's end where an expiry law replaced it."""

from django.db import migrations


def show_expiry_laws(apps, schema_editor):
    GiftCard = apps.get_model("giftcards", "GiftCard")
    Voucher = apps.get_model("promo", "Voucher")
    for card in GiftCard.objects.exclude(expiry_rule="").iterator(chunk_size=500):
        gift = dict(Voucher.objects.values_list("gift", flat=True).get(pk=card.pk) or {})
        gift["expiry_law"] = {"country": card.country or None, "overrides_campaign_expiration": card.law_sets_expiry,
                              "explanation": card.expiry_rule}
        Voucher.objects.filter(pk=card.pk).update(gift=gift)


class Migration(migrations.Migration):

    dependencies = [
        ("giftcards", "0002_reservations_locked_amount"),
    ]

    operations = [
        migrations.RunPython(show_expiry_laws, migrations.RunPython.noop),
    ]
