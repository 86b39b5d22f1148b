"""Course and institution analytics built on the activity log."""
