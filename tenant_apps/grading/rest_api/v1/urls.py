"""Routes of the grading API, under /api/v1/."""

urlpatterns: list = []
