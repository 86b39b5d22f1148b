"""Billing on the bare domain: Stripe's webhook, under /billing/."""

urlpatterns: list = []
