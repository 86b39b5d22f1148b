"""Data rights: a user's data export and erasure."""
