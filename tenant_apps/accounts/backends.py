"""allauth's email authentication, refusing suspended and soft-deleted accounts.

Django asks the backend again on every request with a session (`get_user`), so
suspending or deleting a user signs out their open browser sessions at once.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend

from . import policies


class AuthenticationBackend(AllauthBackend):
    def user_can_authenticate(self, user) -> bool:
        return policies.can_sign_in(user)

    def _check_password(self, user, password):
        # allauth would set aside a refused user whose password is right, to
        # show an "account inactive" page: that page tells a guesser both that
        # the account exists and that the password is right. Refused accounts
        # fail like a wrong password instead (and count towards the lockout).
        if user is None:
            return None
        self._did_check_password = True
        ok = user.check_password(password) and self.user_can_authenticate(user)
        return user if ok else None
