"""allauth's email authentication, refusing suspended and soft-deleted accounts.

Django asks the backend again on every request with a session (`get_user`), so
suspending or deleting a user signs out their open browser sessions at once.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend

from . import policies


class AuthenticationBackend(AllauthBackend):
    def user_can_authenticate(self, user) -> bool:
        return policies.can_sign_in(user)
