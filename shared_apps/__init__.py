"""Apps whose tables live in the public schema: plans, institutions, domains, operator console."""
