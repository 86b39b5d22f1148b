"""Course discussion forums and their posts."""
