"""Assignments and students' submissions to them."""
