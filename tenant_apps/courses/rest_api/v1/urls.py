"""URL stub: filled in by the courses API."""

urlpatterns = []
