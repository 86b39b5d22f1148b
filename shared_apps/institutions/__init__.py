"""Institutions (tenants), their domains, and request routing by subdomain."""
