"""An institution admin's view of their subscription, under /api/v1/institution/subscription/."""

urlpatterns: list = []
