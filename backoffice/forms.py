"""Forms of the back-office pages. They check the shape of what staff type; the services check the rest."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from backoffice import wizard

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

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "— none —")] + [(c.public_id, c.name) for c in categories]
        self.categories = {c.public_id: c for c in categories}

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
            sorry_coupons=bool(data.get("sorry_coupons")))
