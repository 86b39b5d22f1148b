"""An institution admin's view of their subscription, under /api/v1/institution/subscription/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.SubscriptionView.as_view(), name="institution-subscription"),
    path("plans/", views.PlanListView.as_view(), name="institution-subscription-plans"),
    path("checkout/", views.CheckoutView.as_view(), name="institution-subscription-checkout"),
    path("portal/", views.PortalView.as_view(), name="institution-subscription-portal"),
]
