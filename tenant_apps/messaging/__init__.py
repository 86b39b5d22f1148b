"""Conversations and messages between members."""
