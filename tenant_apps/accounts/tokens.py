"""API tokens: allauth headless' JWT machinery, bound to this institution.

Each sign-in through the API opens a server-side session in the institution's
schema; the access token (short-lived) and the refresh token (rotated on each
use) name that session. Ending the session (logout, soft delete, password
change) revokes both at once, and another institution's schema has no such
session, so its subdomain refuses the tokens. The `inst` claim says the same
thing without a query and lets the refusal say why.

A refresh token is spent when used; presenting a spent one again (a replay of a
stolen token, or a client that lost the race) ends its whole session.
"""

from dataclasses import dataclass
from typing import Any

import jwt
from allauth.core.internal.sessionkit import get_session_user
from allauth.headless.internal.sessionkit import session_store
from allauth.headless.tokens.strategies.jwt import internal
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.db import connection, transaction

from . import policies, selectors
from .models import User

AUTH_BACKEND = "tenant_apps.accounts.backends.AuthenticationBackend"


class TokenRefused(Exception):
    """An access token that does not authenticate; `description` says why."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


def _claims(user: User) -> dict[str, Any]:
    return {"inst": connection.schema_name, "role": user.role}


def api_session_open(user: User) -> SessionBase:
    """A new server-side session for an API client, signed in as `user`."""
    session = session_store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = AUTH_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session


def token_pair_issue(*, user: User, session: SessionBase) -> TokenPair:
    access = internal.create_access_token(user, session, _claims(user))
    refresh = internal.create_refresh_token(user, session)
    session.save()
    return _pair(access, refresh)


class RefreshRefused(Exception):
    """A refresh token that gets no new pair. `reused` when it was validly
    signed for a live session but had already been spent: someone replayed an
    old token, so the session it belonged to has been ended (the OAuth 2.0
    Security BCP's refresh-token reuse detection); `user` is whose it was."""

    def __init__(self, *, reused: bool = False, user: User | None = None):
        super().__init__("refresh token refused")
        self.reused = reused
        self.user = user


def token_pair_refresh(refresh_token: str) -> TokenPair:
    """A new pair for a valid refresh token, which is spent (rotation).
    RefreshRefused for an unknown, spent, expired or foreign token.

    The session row is locked for the rotation, so two requests presenting the
    same token cannot both rotate it: the second sees it spent, which is reuse.
    """
    payload = internal.decode_token(refresh_token, "refresh")
    if payload is None:
        raise RefreshRefused()
    reused_by = None
    with transaction.atomic():
        _lock_session_row(payload)
        found = internal.validate_refresh_token(refresh_token)
        if found is None:
            session = internal.get_token_session(payload)
            if session is None:
                raise RefreshRefused()  # another institution's, or logged out
            if payload["jti"] in internal.get_refresh_token_state(session):
                raise RefreshRefused()  # live token, but its user may not sign in
            reused_by = get_session_user(session)
            session.delete()
            sessions_ended_tell(session.get(SESSION_KEY))
        else:
            user, session, payload = found
            if not policies.can_sign_in(user):
                raise RefreshRefused()
            ended = not _policy_still_admits(user)
            if ended:
                session.delete()  # committed: the access token stops too
                sessions_ended_tell(user.pk)
            else:
                internal.invalidate_refresh_token(session, payload)
                access = internal.create_access_token(user, session, _claims(user))
                refresh = internal.create_refresh_token(user, session)
                session.save()
    if found is None:
        raise RefreshRefused(reused=True, user=reused_by)
    if ended:
        raise RefreshRefused()
    return _pair(access, refresh)


def _policy_still_admits(user: User) -> bool:
    """API sessions are opened with a password (and a code where the user has
    MFA). If the institution has since gone SSO only, or now requires MFA of
    the user's role and the user has none, the session is not renewed: it ends
    with its access token, within minutes of the policy change."""
    policy = selectors.security_policy()
    if not policy.password_login_enabled:
        return False
    if policies.mfa_required(user, policy):
        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    return True


def _lock_session_row(payload: dict[str, Any]) -> None:
    """SELECT ... FOR UPDATE on the token's session, when sessions are rows."""
    store = session_store()
    model = getattr(store, "model", None)
    session_key = internal.session_key_from_sid(payload.get("sid", ""))
    if model is not None and session_key:
        list(model.objects.select_for_update().filter(session_key=session_key).values("pk"))


def api_session_close(session: SessionBase) -> None:
    """End an API session: its access and refresh tokens stop working at once,
    and so do the WebSockets opened with them."""
    user_id = session.get(SESSION_KEY)
    session.delete()
    sessions_ended_tell(user_id)


def sessions_ended_tell(user_id) -> None:
    """After the commit, the user's open WebSockets check their access token
    again and close if it is now refused: call it wherever a session ends or
    the user's access changes (tenant_apps.notifications realtime_sessions_ended)."""
    if user_id is None:
        return
    # Here, not at the top: notifications uses accounts (a cycle).
    from tenant_apps.notifications.api import realtime_sessions_ended

    transaction.on_commit(lambda: realtime_sessions_ended(user_id=user_id), robust=True)


def refresh_token_session(refresh_token: str, *, user: User) -> SessionBase | None:
    """The live session a valid refresh token of `user` names, else None."""
    found = internal.validate_refresh_token(refresh_token)
    if found is None or found[0].pk != user.pk:
        return None
    return found[1]


def access_token_session(payload: dict[str, Any]) -> SessionBase | None:
    """The session an authenticated access token's payload names."""
    return internal.get_token_session(payload)


def access_token_authenticate(token: str) -> tuple[User, dict[str, Any]]:
    """The user an access token speaks for, or TokenRefused saying why not."""
    payload = internal.decode_token(token, "access")
    if payload is None:
        raise TokenRefused(_why_undecodable(token))
    if payload.get("inst") != connection.schema_name:
        raise TokenRefused("The access token was issued by another institution.")
    found = internal.validate_access_token(token)
    if found is None:
        raise TokenRefused("The access token has been revoked.")
    user, payload = found
    if not policies.can_sign_in(user):
        raise TokenRefused("The account is not active.")
    return user, payload


def _why_undecodable(token: str) -> str:
    config = internal._get_jwt_config()
    try:
        jwt.decode(token, key=config.verifying_key, algorithms=[config.algorithm])
    except jwt.ExpiredSignatureError:
        return "The access token has expired."
    except jwt.PyJWTError:
        return "The access token is malformed or its signature is invalid."
    return "The token is not an access token."


def _pair(access: str, refresh: str) -> TokenPair:
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN,
        refresh_expires_in=settings.HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN,
    )
