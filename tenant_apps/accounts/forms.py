"""Forms of the browser sign-in pages that allauth does not provide."""

from django import forms


class SignupNamesForm(forms.Form):
    """allauth's sign-up form, plus the names every account has."""

    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, label="Last name")

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def signup(self, request, user) -> None:
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = self.cleaned_data["last_name"]
        user.save(update_fields=["first_name", "last_name"])
