"""The operator console on the bare domain, under /console/."""

urlpatterns: list = []
