"""The activity log: views, submissions and sign-ins, for analytics."""
