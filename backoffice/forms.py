"""Forms of the back-office pages. They check the shape of what staff type; the services check the rest."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from backoffice import wizard, wizard_promotion

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.01")}
MAX_USES = 10**9


class SearchForm(forms.Form):
    q = forms.CharField(label="Customer", max_length=255, required=False,
                        widget=forms.TextInput(attrs={"placeholder": "E-mail, phone, name, cust_… or source id",
                                                      "autofocus": True, "type": "search"}))


class SorryCouponForm(forms.Form):
    campaign = forms.ChoiceField(label="Campaign")
    value = forms.DecimalField(label="Value (optional)", required=False, max_digits=12, decimal_places=2,
                               min_value=Decimal("0.01"),
                               help_text="Amount off (e.g. 5.00) or percent off, below the campaign's own value. "
                                         "Empty: the campaign's value.")
    reason = forms.CharField(label="Reason", max_length=500, widget=forms.TextInput(
        attrs={"placeholder": "e.g. parcel arrived two days late"}))

    def __init__(self, *args, campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [(c.public_id, f"{c.name} ({describe_discount(c.voucher_template)})")
                                           for c in campaigns]


class ValidationForm(forms.Form):
    code = forms.CharField(label="Code", max_length=255)
    amount = forms.DecimalField(label="Cart amount", **MONEY, help_text="e.g. 49.90")
    items = forms.CharField(label="Items (optional)", required=False, max_length=2000, widget=forms.TextInput(
        attrs={"placeholder": "product or SKU id × quantity @ price, e.g. prod_shoes x2 @ 30"}),
        help_text="One per comma: id x quantity @ unit price.")

    def clean_items(self):
        return parse_items(self.cleaned_data.get("items") or "")


def parse_items(text: str) -> list[dict]:
    """"prod_a x2 @ 30, sku_b" -> [{"product_id": "prod_a", "quantity": 2, "price": 3000}, {"sku_id": "sku_b"}]."""
    items = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        price = None
        if "@" in part:
            part, raw_price = (x.strip() for x in part.rsplit("@", 1))
            try:
                price = wizard.to_minor(Decimal(raw_price.replace(",", ".")))
            except ArithmeticError:
                raise ValidationError(f"{raw_price!r} is not a price")
        quantity = 1
        bits = part.replace("×", " x ").split()
        if len(bits) >= 3 and bits[-2].lower() == "x" and bits[-1].isdigit():
            quantity, bits = int(bits[-1]), bits[:-2]
        elif len(bits) >= 2 and bits[-1].lower().startswith("x") and bits[-1][1:].isdigit():
            quantity, bits = int(bits[-1][1:]), bits[:-1]
        ref = " ".join(bits)
        if not ref or quantity < 1:
            raise ValidationError(f"{part!r}: write an id, then x and a quantity")
        item = {("sku_id" if ref.startswith("sku_") else "product_id"): ref, "quantity": quantity}
        if price is not None:
            item.update(price=price, amount=price * quantity)
        items.append(item)
    return items


class RefundForm(forms.Form):
    card = forms.ChoiceField(label="Gift card")
    amount = forms.DecimalField(label="Amount", **MONEY)
    order = forms.CharField(label="Order", max_length=255, help_text="The refunded order's id or number.")
    reason = forms.CharField(label="Reason", max_length=500, required=False)
    repeat = forms.BooleanField(label="Refund this order again", required=False,
                                help_text="The order was refunded before: tick to refund it once more.")

    NEW_CARD = "new"

    def __init__(self, *args, cards=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].choices = [(card.voucher.code, f"{card.voucher.code} (balance {money(card.balance)})")
                                       for card in cards] + [(self.NEW_CARD, "A new gift card for this customer")]


def money(minor) -> str:
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100:,}.{abs(minor) % 100:02d}"


def describe_discount(template_or_discount: dict | None) -> str:
    discount = (template_or_discount or {}).get("discount", template_or_discount) or {}
    kind = discount.get("type")
    if kind == "PERCENT":
        text = f"{discount.get('percent_off')}% off"
        return text + (f", at most {money(discount['amount_limit'])}" if discount.get("amount_limit") else "")
    if kind == "AMOUNT":
        return f"{money(discount.get('amount_off'))} off"
    if kind == "FIXED":
        return f"pay {money(discount.get('fixed_amount'))}"
    if kind == "UNIT" and discount.get("unit_type") == "prod_5h1pp1ng":
        return "free shipping"
    if kind == "UNIT":
        return f"{discount.get('unit_off', '')} free unit(s)"
    return kind or "no discount"


# ---------------------------------------------------------------- the coupon-campaign wizard

DISCOUNT_TYPES = [("PERCENT", "Percent off"), ("AMOUNT", "Amount off"), ("FIXED", "Fixed price (pay only…)")]


class ConditionForm(forms.Form):
    name = forms.ChoiceField(label="Condition", required=False)
    property = forms.CharField(label="Property", required=False, max_length=100,
                               widget=forms.TextInput(attrs={"placeholder": "metadata key"}))
    operator = forms.ChoiceField(label="Operator", required=False,
                                 choices=[("", "—")] + list(wizard.OPERATOR_LABELS.items()))
    value = forms.CharField(label="Value", required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].choices = [("", "— no condition —"), *wizard.condition_choices()]

    def clean(self):
        data = super().clean()
        if data.get("name") and not data.get("operator"):
            self.add_error("operator", "Choose an operator")
        return data


ConditionFormSet = forms.formset_factory(ConditionForm, extra=3, max_num=10)


class CampaignWizardForm(forms.Form):
    # Basics
    name = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"placeholder": "e.g. Spring sale 2027"}))
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ChoiceField(required=False, label="Category")
    # Discount
    discount_type = forms.ChoiceField(choices=DISCOUNT_TYPES, initial="PERCENT", label="Discount",
                                      widget=forms.RadioSelect)
    discount_value = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Value",
                                        help_text="Percent (e.g. 15) or an amount (e.g. 10.00)")
    max_discount = forms.DecimalField(required=False, label="At most (percent off)", **MONEY,
                                      help_text="Optional cap on a percent discount, e.g. 50.00")
    target = forms.ChoiceField(required=False, label="Applies to",
                               help_text="The whole order, or only the chosen product, SKU or collection: percent "
                                         "or amount off each matching line, or a fixed price for each unit")
    # Audience
    match = forms.ChoiceField(choices=[("all", "all conditions"), ("any", "any condition")], initial="all",
                              label="Conditions to meet")
    # Schedule
    start_date = forms.DateTimeField(required=False, label="Starts",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    expiration_date = forms.DateTimeField(required=False, label="Ends",
                                          widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    # Limits
    per_code = forms.IntegerField(required=False, min_value=1, max_value=MAX_USES, label="Uses per code",
                                  help_text="Empty: unlimited", initial=1)
    per_customer = forms.IntegerField(required=False, min_value=1, max_value=MAX_USES, label="Uses per customer")
    total_redemptions = forms.IntegerField(required=False, min_value=1, max_value=MAX_USES, label="Uses in total")
    # Budget
    budget = forms.DecimalField(required=False, label="Budget (total discount)", **MONEY,
                                help_text="The campaign stops when its discounts reach this amount")
    # Codes
    count = forms.IntegerField(min_value=0, max_value=1_000_000, initial=100, label="Number of codes")
    charset = forms.ChoiceField(choices=list(wizard.CHARSET_LABELS.items()), initial="unambiguous",
                                label="Characters")
    length = forms.IntegerField(min_value=4, max_value=64, initial=8, label="Length")
    prefix = forms.CharField(required=False, max_length=40, label="Prefix", initial="")
    postfix = forms.CharField(required=False, max_length=40, label="Suffix")
    pattern = forms.CharField(required=False, max_length=120, label="Pattern",
                              help_text="Optional, overrides the length: # is a random character, "
                                        "e.g. SPRING-####-####")
    sorry_coupons = forms.BooleanField(required=False, label="Customer service may issue these codes as sorry coupons")
    # Preview
    cart_amount = forms.DecimalField(required=False, label="Sample cart", **MONEY)

    def __init__(self, *args, categories=(), targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "— none —")] + [(c.public_id, c.name) for c in categories]
        self.categories = {c.public_id: c for c in categories}
        self.fields["target"].choices = list(targets) or [("", "The whole order")]

    def plan(self, conditions: list[dict]) -> wizard.Plan:
        data = self.cleaned_data
        return wizard.Plan(
            name=data["name"].strip(), description=data.get("description") or "",
            category=self.categories.get(data.get("category") or ""),
            discount_type=data["discount_type"], discount_value=data["discount_value"],
            max_discount=wizard.to_minor(data.get("max_discount")),
            conditions=tuple(wizard.Condition(name=row["name"], operator=row["operator"],
                                              value=row.get("value") or "", property=row.get("property") or "")
                             for row in conditions if row.get("name")),
            match=data.get("match") or "all", start_date=data.get("start_date"),
            expiration_date=data.get("expiration_date"), per_code=data.get("per_code"),
            per_customer=data.get("per_customer"), total_redemptions=data.get("total_redemptions"),
            budget=wizard.to_minor(data.get("budget")), count=data.get("count") or 0,
            charset=data.get("charset") or "unambiguous", length=data.get("length") or 8,
            prefix=data.get("prefix") or "", postfix=data.get("postfix") or "", pattern=data.get("pattern") or "",
            sorry_coupons=bool(data.get("sorry_coupons")), target=data.get("target") or "")


# ---------------------------------------------------------------- the promotion-campaign wizard

def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(required=False, label=label, widget=forms.TimeInput(attrs={"type": "time"}))


class PromotionTierForm(forms.Form):
    name = forms.CharField(label="Tier name", required=False, max_length=255,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. Happy hour 15%"}))
    kind = forms.ChoiceField(label="Gives", required=False, initial="PERCENT_ORDER",
                             choices=list(wizard_promotion.DISCOUNT_KINDS.items()))
    value = forms.DecimalField(label="Value", required=False, max_digits=12, decimal_places=2,
                               min_value=Decimal("0.01"), help_text="Percent (e.g. 15) or an amount (e.g. 10.00)")
    target = forms.CharField(label="Product or collection", required=False, max_length=255,
                             widget=forms.TextInput(attrs={"placeholder": "prod_… / pcol_… or source id"}))
    min_amount = forms.DecimalField(label="Orders of at least", required=False, **MONEY)
    banner = forms.CharField(label="Banner", required=False, max_length=500,
                             widget=forms.TextInput(attrs={"placeholder": "What the shop shows"}))
    in_window = forms.BooleanField(label="Only in the recurring window", required=False)


PromotionTierFormSet = forms.formset_factory(PromotionTierForm, extra=3, max_num=10)


class PromotionWizardForm(forms.Form):
    name = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"placeholder": "e.g. Summer promotions"}))
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ChoiceField(required=False, label="Category")
    exclusive = forms.BooleanField(required=False, label="Exclusive: its tiers apply alone, nothing combines with them")
    start_date = forms.DateTimeField(required=False, label="Starts",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    expiration_date = forms.DateTimeField(required=False, label="Ends",
                                          widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    days = forms.MultipleChoiceField(required=False, label="Days", widget=forms.CheckboxSelectMultiple,
                                     choices=[(str(n), label) for n, label in wizard_promotion.DAYS])
    window_start = _time_field("From")
    window_end = _time_field("Until")
    cart_amount = forms.DecimalField(required=False, label="Sample cart", **MONEY)
    preview_at = forms.DateTimeField(required=False, label="At", help_text="Empty: the next moment the tiers run",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "— none —")] + [(c.public_id, c.name) for c in categories]
        self.categories = {c.public_id: c for c in categories}

    def plan(self, tiers: list[dict]) -> wizard_promotion.Plan:
        data = self.cleaned_data
        return wizard_promotion.Plan(
            name=(data.get("name") or "").strip(), description=data.get("description") or "",
            category=self.categories.get(data.get("category") or ""), exclusive=bool(data.get("exclusive")),
            start_date=data.get("start_date"), expiration_date=data.get("expiration_date"),
            days=tuple(int(d) for d in data.get("days") or ()), window_start=data.get("window_start"),
            window_end=data.get("window_end"),
            tiers=tuple(wizard_promotion.Tier(
                name=(row.get("name") or "").strip() or f"Tier {index}", kind=row.get("kind") or "PERCENT_ORDER",
                value=row.get("value"), target=row.get("target") or "",
                min_amount=wizard.to_minor(row.get("min_amount")),
                banner=row.get("banner") or "", in_window=bool(row.get("in_window")))
                for index, row in enumerate(tiers, start=1)))


def filled_tiers(formset) -> list[dict]:
    """The tier rows a marketer filled in (an empty row still has the first kind selected)."""
    rows = getattr(formset, "cleaned_data", None) or []
    return [row for row in rows if row and (row.get("name") or row.get("value") is not None or row.get("banner")
                                            or row.get("min_amount") is not None
                                            or row.get("kind") not in ("", None, "PERCENT_ORDER"))]


# ---------------------------------------------------------------- gift cards: a campaign, cards for a partner

class GiftCardWizardForm(forms.Form):
    name = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"placeholder": "e.g. Christmas gift cards"}))
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.ChoiceField(required=False, label="Category")
    amount = forms.DecimalField(label="Face value", **MONEY, help_text="What each card holds, e.g. 50.00")
    count = forms.IntegerField(label="Number of cards", min_value=1, max_value=1_000_000, initial=100)
    sold_price = forms.DecimalField(label="Sold price (optional)", required=False, max_digits=12, decimal_places=2,
                                    min_value=Decimal("0"), help_text="What a buyer pays, at most the face value")
    expiration_date = forms.DateTimeField(required=False, label="Expires",
                                          widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                          help_text="Empty: never (a country's law may set it)")
    charset = forms.ChoiceField(choices=list(wizard.CHARSET_LABELS.items()), initial="unambiguous",
                                label="Characters")
    length = forms.IntegerField(min_value=4, max_value=64, initial=12, label="Length")
    prefix = forms.CharField(required=False, max_length=40, label="Prefix", initial="GC-")
    postfix = forms.CharField(required=False, max_length=40, label="Suffix")

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "— none —")] + [(c.public_id, c.name) for c in categories]
        self.categories = {c.public_id: c for c in categories}

    def plan(self):
        from backoffice import wizard_giftcards

        data = self.cleaned_data
        return wizard_giftcards.Plan(
            name=(data.get("name") or "").strip(), description=data.get("description") or "",
            category=self.categories.get(data.get("category") or ""), amount=wizard.to_minor(data["amount"]),
            count=data["count"], sold_price=wizard.to_minor(data.get("sold_price")),
            expiration_date=data.get("expiration_date"), charset=data.get("charset") or "unambiguous",
            length=data.get("length") or 12, prefix=data.get("prefix") or "", postfix=data.get("postfix") or "")


class PartnerCardsForm(forms.Form):
    campaign = forms.ChoiceField(label="Gift card campaign")
    partner = forms.CharField(label="Partner or event", max_length=255,
                              widget=forms.TextInput(attrs={"placeholder": "e.g. ACME Corp. staff party"}))
    count = forms.IntegerField(label="Number of cards", min_value=1, max_value=100_000, initial=10)
    amount = forms.DecimalField(label="Value of each card (optional)", required=False, max_digits=12,
                                decimal_places=2, min_value=Decimal("0.01"), help_text="Empty: the campaign's")
    sold_price = forms.DecimalField(label="Price the partner pays per card (optional)", required=False,
                                    max_digits=12, decimal_places=2, min_value=Decimal("0"))
    label = forms.CharField(label="Note (optional)", required=False, max_length=255)

    def __init__(self, *args, campaigns=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.campaigns = {c.public_id: c for c in campaigns}
        self.fields["campaign"].choices = [
            (c.public_id, f"{c.name} ({money((c.voucher_template.get('gift') or {}).get('amount'))})")
            for c in campaigns]
