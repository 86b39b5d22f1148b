"""A minimal OpenID provider (django-oauth-toolkit with OIDC) for SSO tests.

Run it with `python -m tests.peers.oidc_provider.serve --port N --seed seed.json`;
see `serve.py`. It is its own Django project with its own database and never
imports ConceptsPro's settings.
"""
