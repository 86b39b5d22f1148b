"""Routes of the assignments API, under /api/v1/."""

urlpatterns: list = []
