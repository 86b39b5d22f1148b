"""Course announcements and who read them."""
