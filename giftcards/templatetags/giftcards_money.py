from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """Minor units as major units with two decimals: 123456 -> "1,234.56"."""
    if value in (None, ""):
        return ""
    value = int(value)
    sign = "-" if value < 0 else ""
    whole, cents = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{cents:02d}"
