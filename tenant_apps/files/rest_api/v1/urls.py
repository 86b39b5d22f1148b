"""URL stub: filled in by the files API."""

urlpatterns = []
