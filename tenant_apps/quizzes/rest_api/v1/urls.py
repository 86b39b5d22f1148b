"""Routes of the quizzes API, under /api/v1/."""

urlpatterns: list = []
