"""Self-serve signup on the bare domain: landing, pricing, signup and its progress."""

urlpatterns: list = []
