"""/api/v1/ paths of activity."""

urlpatterns: list = []
