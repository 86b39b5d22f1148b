"""Filled in by the identity work."""

urlpatterns = []
