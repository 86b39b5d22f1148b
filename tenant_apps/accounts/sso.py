"""Single sign-on: the institution's identity providers and the role they assert."""

from .models import Role

# When several asserted values map to roles, the most privileged one wins.
ROLE_RANK = [Role.STUDENT, Role.TA, Role.INSTRUCTOR, Role.ADMIN]


def _claim_values(claims: dict, claim: str) -> list[str]:
    value = claims.get(claim)
    # SAML attributes arrive as lists; OIDC claims as strings or lists.
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def role_from_claims(claims: dict, app_settings: dict) -> str:
    """The role for a new SSO account, from the claim (OIDC) or attribute (SAML)
    the admin chose and their value → role map. Unmapped: the default role."""
    default = app_settings.get("default_role") or Role.STUDENT
    claim = app_settings.get("role_claim")
    role_map = app_settings.get("role_map") or {}
    if not claim:
        return default
    mapped = [role_map[v] for v in _claim_values(claims, claim) if role_map.get(v) in ROLE_RANK]
    if not mapped:
        return default
    return max(mapped, key=ROLE_RANK.index)
