"""The institution's sign-in configuration, under /api/v1/institution/:
identity providers (OpenID Connect and SAML) and the security policy.

Institution admins only (IsInstitutionAdmin), on their own institution's host.
Secrets are write-only.
"""

from allauth.socialaccount.providers.base.provider import Provider
from allauth.utils import build_absolute_uri
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import KnownKeysSerializer, PagePagination

from ... import selectors, sso
from ...models import Role
from ...policies import IsInstitutionAdmin

ROLE_CHOICES = [role.value for role in Role]


def _endpoint_url(value: str) -> str:
    if not sso.endpoint_url_allowed(value):
        raise serializers.ValidationError(
            "Must be an https URL (plain http is accepted for loopback hosts only)."
        )
    return value


class _KnownKeysOnly(KnownKeysSerializer):
    # allauth reads more settings than we offer (endpoint overrides, ...), and
    # none of those may slip in.
    unknown_key_message = "Unknown setting."


class _RoleMappingSerializer(_KnownKeysOnly):
    """Our keys in a provider's settings: which claim carries the role and how
    its values map to roles."""

    role_claim = serializers.CharField(required=False, allow_blank=True, max_length=200)
    role_map = serializers.DictField(
        child=serializers.ChoiceField(choices=ROLE_CHOICES), required=False
    )
    default_role = serializers.ChoiceField(
        choices=ROLE_CHOICES, required=False, default=Role.STUDENT.value
    )

    def validate(self, attrs):
        if attrs.get("role_map") and not attrs.get("role_claim"):
            raise serializers.ValidationError({"role_claim": ["Required when role_map is given."]})
        return attrs


class OidcSettingsSerializer(_RoleMappingSerializer):
    server_url = serializers.URLField(
        max_length=500,
        validators=[_endpoint_url],
        help_text="The issuer (discovery: <server_url>/.well-known/openid-configuration)",
    )
    token_auth_method = serializers.ChoiceField(
        choices=["client_secret_basic", "client_secret_post"], required=False
    )


class SamlIdpSerializer(_KnownKeysOnly):
    entity_id = serializers.CharField(required=False, max_length=500)
    sso_url = serializers.URLField(required=False, max_length=500, validators=[_endpoint_url])
    slo_url = serializers.URLField(required=False, max_length=500, validators=[_endpoint_url])
    x509cert = serializers.CharField(required=False, max_length=20000)
    metadata_url = serializers.URLField(required=False, max_length=500, validators=[_endpoint_url])

    def validate(self, attrs):
        if attrs.get("metadata_url"):
            return attrs
        missing = [key for key in ("entity_id", "sso_url", "x509cert") if not attrs.get(key)]
        if missing:
            raise serializers.ValidationError(
                {key: ["Required unless metadata_url is given."] for key in missing}
            )
        return attrs


class SamlSettingsSerializer(_RoleMappingSerializer):
    idp = SamlIdpSerializer()
    # Our field (uid, email, first_name, ...) → the IdP's attribute name(s).
    attribute_mapping = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=500), min_length=1),
        required=False,
    )

    def to_internal_value(self, data):
        # Accept a single attribute name as well as a list of them.
        mapping = data.get("attribute_mapping") if isinstance(data, dict) else None
        if isinstance(mapping, dict):
            data = {
                **data,
                "attribute_mapping": {
                    k: [v] if isinstance(v, str) else v for k, v in mapping.items()
                },
            }
        return super().to_internal_value(data)

    def validate_attribute_mapping(self, value):
        if "email" not in value:
            raise serializers.ValidationError("Must map at least `email`.")
        return value


SETTINGS_SERIALIZERS = {"oidc": OidcSettingsSerializer, "saml": SamlSettingsSerializer}


def _validated_settings(kind: str, data) -> dict:
    serializer = SETTINGS_SERIALIZERS[kind](data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError({"settings": serializer.errors})
    return serializer.validated_data


@extend_schema_serializer(component_name="IdentityProvider")
class IdentityProviderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.SerializerMethodField()
    provider_id = serializers.CharField()
    name = serializers.CharField()
    client_id = serializers.CharField()
    has_secret = serializers.SerializerMethodField()
    settings = serializers.JSONField()
    # What the admin gives the provider's operator, and where people sign in.
    login_url = serializers.SerializerMethodField()
    redirect_uri = serializers.SerializerMethodField()
    metadata_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=list(sso.IDP_KINDS)))
    def get_type(self, app) -> str:
        return sso.identity_provider_kind(app)

    def get_has_secret(self, app) -> bool:
        return bool(app.secret)

    def _absolute(self, path: str) -> str:
        # allauth's own builder: the same scheme it sends as redirect_uri.
        return build_absolute_uri(self.context["request"], path)

    def get_login_url(self, app) -> str:
        provider: Provider = app.get_provider(self.context["request"])
        return self._absolute(provider.get_login_url(self.context["request"]))

    def get_redirect_uri(self, app) -> str:
        if app.provider == sso.IDP_KINDS["saml"]:
            name, kwargs = "saml_acs", {"organization_slug": app.client_id}
        else:
            name, kwargs = "openid_connect_callback", {"provider_id": app.provider_id}
        return self._absolute(reverse(name, kwargs=kwargs))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_metadata_url(self, app) -> str | None:
        if app.provider != sso.IDP_KINDS["saml"]:
            return None
        return self._absolute(reverse("saml_metadata", kwargs={"organization_slug": app.client_id}))


# What GET returns besides the editable fields: a PUT of a GET's body is accepted.
OUTPUT_ONLY_FIELDS = {
    "id",
    "type",
    "provider_id",
    "has_secret",
    "login_url",
    "redirect_uri",
    "metadata_url",
}


def _provider_output(request, app) -> dict:
    return IdentityProviderOutput(app, context={"request": request}).data


class IdentityProviderListView(APIView):
    """GET: this institution's identity providers. POST: add one.
    Institution admins only."""

    permission_classes = [IsInstitutionAdmin]
    pagination_class = PagePagination

    @extend_schema_serializer(component_name="IdentityProviderCreateInput")
    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=list(sso.IDP_KINDS))
        provider_id = serializers.SlugField(max_length=100)
        name = serializers.CharField(max_length=40)
        client_id = serializers.CharField(max_length=191, required=False, allow_blank=True)
        secret = serializers.CharField(
            max_length=191, required=False, allow_blank=True, write_only=True
        )
        settings = serializers.JSONField()

        def validate(self, attrs):
            kind = attrs["type"]
            attrs["settings"] = _validated_settings(kind, attrs["settings"])
            if kind == "oidc":
                missing = [f for f in ("client_id", "secret") if not attrs.get(f)]
                if missing:
                    raise serializers.ValidationError(
                        {f: ["Required for OpenID Connect."] for f in missing}
                    )
            return attrs

    @extend_schema(
        operation_id="institution_identity_providers_list",
        responses=IdentityProviderOutput(many=True),
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(sso.identity_provider_list(), request, view=self)
        return paginator.get_paginated_response([_provider_output(request, a) for a in page])

    @extend_schema(
        request=InputSerializer,
        responses={
            201: IdentityProviderOutput,
            409: OpenApiResponse(description="`provider_id_taken`."),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        app = sso.identity_provider_create(
            actor=request.user,
            request=request,
            kind=data["type"],
            provider_id=data["provider_id"],
            name=data["name"],
            client_id=data.get("client_id", ""),
            secret=data.get("secret", ""),
            app_settings=data["settings"],
        )
        return Response(_provider_output(request, app), status=status.HTTP_201_CREATED)


class IdentityProviderDetailView(APIView):
    """GET, PUT, PATCH, DELETE one identity provider. Institution admins only.
    `type` and `provider_id` are fixed once created; an omitted `secret` keeps
    the stored one; `settings`, when given, replace the stored ones whole."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema_serializer(component_name="IdentityProviderUpdateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=40)
        client_id = serializers.CharField(max_length=191, required=False)
        secret = serializers.CharField(max_length=191, required=False, write_only=True)
        settings = serializers.JSONField()

        def validate(self, attrs):
            unknown = set(self.initial_data) - set(self.fields) - OUTPUT_ONLY_FIELDS
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
            app = self.context["app"]
            for fixed in ("type", "provider_id"):
                current = sso.identity_provider_kind(app) if fixed == "type" else app.provider_id
                if fixed in self.initial_data and self.initial_data[fixed] != current:
                    raise serializers.ValidationError({fixed: ["Cannot be changed."]})
            if "settings" in attrs:
                attrs["settings"] = _validated_settings(
                    sso.identity_provider_kind(app), attrs["settings"]
                )
            return attrs

    def _app(self, pk):
        return get_object_or_404(sso.identity_provider_list(), pk=pk)

    @extend_schema(responses=IdentityProviderOutput)
    def get(self, request, pk):
        return Response(_provider_output(request, self._app(pk)))

    @extend_schema(request=InputSerializer, responses=IdentityProviderOutput)
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(request=InputSerializer(partial=True), responses=IdentityProviderOutput)
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    def _update(self, request, pk, *, partial):
        app = self._app(pk)
        serializer = self.InputSerializer(data=request.data, partial=partial, context={"app": app})
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "settings" in changes:
            changes["app_settings"] = changes.pop("settings")
        app = sso.identity_provider_update(actor=request.user, request=request, app=app, **changes)
        return Response(_provider_output(request, app))

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(
                description="`identity_provider_required`: sign-in would have no way in."
            ),
        }
    )
    def delete(self, request, pk):
        sso.identity_provider_delete(actor=request.user, request=request, app=self._app(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecurityPolicyView(APIView):
    """GET, PUT, PATCH the institution's security policy. Institution admins only.
    Turning password sign-in off (SSO only) needs an identity provider first
    (409 `no_identity_provider`)."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema_serializer(component_name="SecurityPolicyInput")
    class InputSerializer(serializers.Serializer):
        allow_self_registration = serializers.BooleanField()
        self_registration_domains = serializers.ListField(
            # The length as maxLength, not a look-ahead in the pattern: the
            # fuzz test's generator can only meet a look-ahead by filtering.
            child=serializers.RegexField(
                r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                max_length=253,
                error_messages={"invalid": "Not a domain name."},
            ),
            max_length=100,
        )
        password_login_enabled = serializers.BooleanField()
        mfa_required_roles = serializers.ListField(
            child=serializers.ChoiceField(choices=ROLE_CHOICES), max_length=len(ROLE_CHOICES)
        )

        def to_internal_value(self, data):
            domains = data.get("self_registration_domains") if hasattr(data, "get") else None
            if isinstance(domains, list):
                data = {
                    **data,
                    "self_registration_domains": [
                        d.strip().lower() if isinstance(d, str) else d for d in domains
                    ],
                }
            return super().to_internal_value(data)

        def validate(self, attrs):
            unknown = set(self.initial_data) - set(self.fields) - {"updated_at"}
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
            for field in ("self_registration_domains", "mfa_required_roles"):
                if field in attrs:
                    attrs[field] = sorted(set(attrs[field]))
            return attrs

    @extend_schema_serializer(component_name="SecurityPolicy")
    class OutputSerializer(serializers.Serializer):
        allow_self_registration = serializers.BooleanField()
        self_registration_domains = serializers.ListField(child=serializers.CharField())
        password_login_enabled = serializers.BooleanField()
        mfa_required_roles = serializers.ListField(child=serializers.CharField())
        updated_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(selectors.security_policy()).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            409: OpenApiResponse(description="`no_identity_provider`: SSO only needs one."),
        },
    )
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(
        request=InputSerializer(partial=True),
        responses={
            200: OutputSerializer,
            409: OpenApiResponse(description="`no_identity_provider`: SSO only needs one."),
        },
    )
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial):
        serializer = self.InputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        policy = sso.security_policy_update(
            actor=request.user, request=request, **serializer.validated_data
        )
        return Response(self.OutputSerializer(policy).data)
