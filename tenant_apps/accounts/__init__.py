"""Accounts: users with email login and an institution role.

The table exists in every institution's schema (its people) and in the public
schema (the SaaS operator's staff); the two never mix.
"""
