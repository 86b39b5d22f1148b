"""URL stub: filled in by the content API."""

urlpatterns = []
