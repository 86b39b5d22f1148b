"""URL stub: filled in by the announcements API."""

urlpatterns = []
