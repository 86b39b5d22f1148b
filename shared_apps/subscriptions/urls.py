"""Billing on the bare domain: Stripe's webhook, under /billing/."""

from django.urls import path

from . import views

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]
