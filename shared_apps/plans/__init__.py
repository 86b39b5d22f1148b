"""Subscription plans and the limits they grant (public schema)."""
