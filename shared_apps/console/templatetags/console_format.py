"""Template filters of the operator console."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(cents, currency: str = "usd") -> str:
    """Integer cents as an amount: 123456 -> "1,234.56 USD"."""
    amount = Decimal(int(cents or 0)) / 100
    return f"{amount:,.2f} {currency.upper()}"
