"""The security audit trail of one institution (its own schema): sign-ins,
lockouts, MFA and password changes, SSO logins, role changes."""
