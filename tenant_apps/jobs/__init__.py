"""Scheduled jobs: a ledger so each runs once per institution and period."""
