"""Apps whose tables live in each institution's own schema."""
