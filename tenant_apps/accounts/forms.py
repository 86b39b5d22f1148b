"""Forms of the browser sign-in pages that allauth does not provide."""

from django import forms

from . import selectors


class SignupNamesForm(forms.Form):
    """The base of allauth's sign-up form (browser and API register): the names
    every account has, and the institution's self-registration domains."""

    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, label="Last name")

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email") or ""
        domains = [d.lower() for d in selectors.security_policy().self_registration_domains]
        if email and domains and email.rsplit("@", 1)[-1].lower() not in domains:
            self.add_error(
                "email",
                "Self-registration is only open to addresses of this institution's domains: "
                + ", ".join(domains)
                + ".",
            )
        return cleaned

    def signup(self, request, user) -> None:
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = self.cleaned_data["last_name"]
        user.save(update_fields=["first_name", "last_name"])
