"""The provider's claims: standard profile and email claims plus
`affiliation`, the list of the user's group names (as eduPersonAffiliation
would assert "faculty", "student", ...)."""

from oauth2_provider.oauth2_validators import OAuth2Validator


class AffiliationValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "affiliation": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "name": user.get_full_name(),
            "preferred_username": user.username,
            "affiliation": sorted(user.groups.values_list("name", flat=True)),
        }
