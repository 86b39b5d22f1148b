"""/billing/ on an institution's host: its admin's billing page."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.billing, name="billing"),
    path("checkout/", pages.billing_checkout, name="billing-checkout"),
    path("portal/", pages.billing_portal, name="billing-portal"),
]
