"""Single sign-on: the institution's identity providers and the role they assert.

An identity provider is an allauth `SocialApp` row in the institution's own
schema (sites are not installed, so a row serves its schema's host only):
OpenID Connect apps have provider "openid_connect" and the admin's slug as
provider_id; SAML apps have provider "saml" and the slug as both provider_id and
client_id (allauth's SAML URLs name the app by client_id). Besides allauth's own
keys, `settings` carries ours: role_claim, role_map and default_role.

The security policy's "SSO only" switch and the list of identity providers
depend on each other (SSO only needs a provider), so both writes live here and
serialise on the policy row. Configuring SSO (adding or changing a provider,
turning SSO only on) needs a plan that includes it: 403 `plan_limit_reached`
otherwise. Removing a provider and turning SSO only off are always allowed, so
an institution that moved to a smaller plan can undo its configuration.
"""

import ipaddress
from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialAccount, SocialApp
from django.db import transaction
from django.db.models import QuerySet

from conceptspro.api import ApplicationError
from shared_apps.plans.api import PlanFeature, feature_require
from tenant_apps.audit.api import AuditEventType, audit_record

from .models import Role, SecurityPolicy, User

# When several asserted values map to roles, the most privileged one wins.
ROLE_RANK = [Role.STUDENT, Role.TA, Role.INSTRUCTOR, Role.ADMIN]

# Our name for a kind of identity provider → allauth's provider id.
IDP_KINDS = {"oidc": "openid_connect", "saml": "saml"}
IDP_KIND_OF_PROVIDER = {provider: kind for kind, provider in IDP_KINDS.items()}

LOOPBACK_HOSTS = {"localhost"}

SAML_ADVANCED = {
    "strict": True,
    "want_assertion_signed": True,
    "want_message_signed": False,
    "authn_request_signed": False,
    "reject_idp_initiated_sso": True,
}

POLICY_FIELDS = (
    "allow_self_registration",
    "self_registration_domains",
    "password_login_enabled",
    "mfa_required_roles",
)


def _claim_values(claims: dict, claim: str) -> list[str]:
    value = claims.get(claim)
    # SAML attributes arrive as lists; OIDC claims as strings or lists.
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def sso_claims(extra_data: dict, provider: str) -> dict:
    """The asserted claims of one SSO login, from allauth's `extra_data`.

    allauth keeps OIDC data as {"id_token": {...}, "userinfo": {...}}; a claim
    may be in either, and userinfo is the fresher. SAML attributes are flat."""
    if provider == IDP_KINDS["oidc"]:
        return {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}
    return extra_data


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


def endpoint_url_allowed(url: str) -> bool:
    """An identity provider's URL must be https; plain http only on loopback
    (a provider on the same machine, as in development and tests), where
    nothing travels over a network to be read or altered."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def identity_provider_kind(app: SocialApp) -> str:
    return IDP_KIND_OF_PROVIDER[app.provider]


def identity_provider_list() -> QuerySet[SocialApp]:
    """This institution's identity providers (the ones our API manages)."""
    return SocialApp.objects.filter(provider__in=IDP_KINDS.values()).order_by("name", "id")


def _policy_locked() -> SecurityPolicy:
    # The policy row is the lock for the whole SSO configuration: "SSO only
    # needs a provider" is checked and changed under it by every writer.
    SecurityPolicy.objects.get_or_create(pk=1)
    return SecurityPolicy.objects.select_for_update().get(pk=1)


def _stored_settings(kind: str, app_settings: dict) -> dict:
    stored = dict(app_settings)
    if kind == "oidc":
        # Always PKCE (S256): a provider that does not know it ignores the parameters.
        stored["oauth_pkce_enabled"] = True
    else:
        # allauth's SAML defaults accept an unsigned assertion inside a signed
        # message and IdP-initiated logins; ours require signed assertions,
        # answer only our own requests, and check everything strictly.
        stored["advanced"] = SAML_ADVANCED
    return stored


def _provider_id_taken(provider_id: str) -> bool:
    from allauth.socialaccount.providers import registry

    # allauth looks apps up by provider *or* provider_id: a slug equal to a
    # provider class id ("saml", "openid_connect", ...) would be ambiguous.
    return (
        registry.get_class(provider_id) is not None
        or SocialApp.objects.filter(provider_id=provider_id).exists()
        or SocialApp.objects.filter(provider=IDP_KINDS["saml"], client_id=provider_id).exists()
    )


@transaction.atomic
def identity_provider_create(
    *,
    actor: User,
    request=None,
    kind: str,
    provider_id: str,
    name: str,
    client_id: str = "",
    secret: str = "",
    app_settings: dict,
) -> SocialApp:
    """Add an identity provider. `provider_id` is the slug in its URLs, fixed for life."""
    feature_require(PlanFeature.SSO)
    _policy_locked()
    if _provider_id_taken(provider_id):
        raise ApplicationError(
            "An identity provider with this identifier already exists.",
            code="provider_id_taken",
            status=409,
            fields={"provider_id": ["This identifier is already in use."]},
        )
    app = SocialApp.objects.create(
        provider=IDP_KINDS[kind],
        provider_id=provider_id,
        name=name,
        client_id=provider_id if kind == "saml" else client_id,
        secret=secret,
        settings=_stored_settings(kind, app_settings),
    )
    audit_record(
        event=AuditEventType.IDP_CHANGED,
        request=request,
        actor=actor,
        action="created",
        provider_id=provider_id,
        kind=kind,
        name=name,
    )
    return app


@transaction.atomic
def identity_provider_update(*, actor: User, request=None, app: SocialApp, **changes) -> SocialApp:
    """Change a provider's name, client id, secret or settings (replaced whole).
    Its kind and provider_id never change: existing links to people hang on them."""
    unknown = set(changes) - {"name", "client_id", "secret", "app_settings"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    feature_require(PlanFeature.SSO)
    _policy_locked()
    app = SocialApp.objects.select_for_update().get(pk=app.pk)
    kind = identity_provider_kind(app)
    if kind == "saml":
        changes.pop("client_id", None)
    if "app_settings" in changes:
        changes["settings"] = _stored_settings(kind, changes.pop("app_settings"))
    changed = sorted(field for field, value in changes.items() if getattr(app, field) != value)
    if not changed:
        return app
    for field in changed:
        setattr(app, field, changes[field])
    app.save(update_fields=changed)
    audit_record(
        event=AuditEventType.IDP_CHANGED,
        request=request,
        actor=actor,
        action="updated",
        provider_id=app.provider_id,
        kind=kind,
        # Names only: the secret's value never reaches the audit trail.
        changed=changed,
    )
    return app


@transaction.atomic
def identity_provider_delete(*, actor: User, request=None, app: SocialApp) -> None:
    """Remove a provider and the links from it to people (their accounts stay:
    another provider asserting the same verified email finds them again).
    Refused for the last provider while the institution signs in by SSO only."""
    policy = _policy_locked()
    if not policy.password_login_enabled and identity_provider_list().count() <= 1:
        raise ApplicationError(
            "This institution signs in with single sign-on only; its last identity "
            "provider cannot be removed. Turn password sign-in on first.",
            code="identity_provider_required",
            status=409,
        )
    provider_id, kind = app.provider_id, identity_provider_kind(app)
    SocialAccount.objects.filter(provider=provider_id).delete()
    app.delete()
    audit_record(
        event=AuditEventType.IDP_CHANGED,
        request=request,
        actor=actor,
        action="deleted",
        provider_id=provider_id,
        kind=kind,
    )


@transaction.atomic
def security_policy_update(*, actor: User, request=None, **changes) -> SecurityPolicy:
    """Change how people sign in. SSO only (password sign-in off) needs at least
    one identity provider, or nobody could sign in at all."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not policy fields: {sorted(unknown)}")
    policy = _policy_locked()
    changed = {
        field: {"from": getattr(policy, field), "to": value}
        for field, value in changes.items()
        if getattr(policy, field) != value
    }
    sso_only = changed.get("password_login_enabled", {}).get("to") is False
    if sso_only:
        feature_require(PlanFeature.SSO)
    if sso_only and not identity_provider_list().exists():
        raise ApplicationError(
            "Password sign-in cannot be turned off before an identity provider is configured.",
            code="no_identity_provider",
            status=409,
        )
    if not changed:
        return policy
    for field, change in changed.items():
        setattr(policy, field, change["to"])
    policy.save()
    audit_record(event=AuditEventType.POLICY_CHANGED, request=request, actor=actor, changed=changed)
    return policy
