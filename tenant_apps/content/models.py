"""Modules, content items and progress."""
