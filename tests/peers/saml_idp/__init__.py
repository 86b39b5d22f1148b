"""A real SAML 2.0 identity provider (pysaml2) on loopback, for SSO tests."""

from .server import SamlIdp

__all__ = ["SamlIdp"]
