import factory

from promo.models import Campaign, Category, Voucher
from rules.models import ValidationRule, ValidationRuleAssignment


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    hierarchy = factory.Sequence(lambda n: n)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    campaign_type = Campaign.CampaignType.DISCOUNT_COUPONS


class VoucherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Voucher

    code = factory.Sequence(lambda n: f"CODE{n:05d}")
    campaign = factory.SubFactory(CampaignFactory)
    discount = factory.LazyFunction(lambda: {"type": "AMOUNT", "amount_off": 1000})


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValidationRule

    name = factory.Sequence(lambda n: f"Rule {n}")


def assign(rule: ValidationRule, obj) -> ValidationRuleAssignment:
    object_type = "voucher" if isinstance(obj, Voucher) else "campaign"
    return ValidationRuleAssignment.objects.create(rule=rule, related_object_type=object_type,
                                                   related_object_id=obj.public_id)
