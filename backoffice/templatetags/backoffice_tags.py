"""Filters for the back-office pages: money in minor units shown in major units, discounts in words."""

from django import template
from django.conf import settings

from backoffice import forms

register = template.Library()


@register.filter
def money(minor):
    """1250 -> "12.50"."""
    if minor is None or minor == "":
        return ""
    try:
        return forms.money(int(minor))
    except (TypeError, ValueError):
        return minor


@register.filter
def discount(value):
    """A discount (or a campaign's voucher template) in words: "15% off", "5.00 off"."""
    return forms.describe_discount(value if isinstance(value, dict) else None)


@register.simple_tag
def currency():
    return settings.CURRENCY
