"""Input and output shapes of the institution admin's subscription endpoints."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from shared_apps.plans.models import Feature, Interval

from ..models import SubscriptionStatus


def _return_path(value: str) -> str:
    # Stripe sends the admin back here: a path on this institution's own host
    # only, so it cannot be made to redirect anywhere else.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise serializers.ValidationError("Must be a path on this site, starting with '/'.")
    return value


class _ReturnPathInput(KnownKeysSerializer):
    return_path = serializers.CharField(
        required=False,
        max_length=500,
        validators=[_return_path],
        help_text="Where Stripe sends the admin back on this site (default: /).",
    )


@extend_schema_serializer(component_name="BillingCheckoutInput")
class CheckoutInput(_ReturnPathInput):
    plan = serializers.SlugField(max_length=40, help_text="The code of a public plan.")
    interval = serializers.ChoiceField(choices=Interval.choices, default=Interval.MONTH)


@extend_schema_serializer(component_name="BillingPortalInput")
class PortalInput(_ReturnPathInput):
    pass


@extend_schema_serializer(component_name="BillingRedirect")
class RedirectOutput(serializers.Serializer):
    url = serializers.URLField(
        allow_null=True,
        help_text="The payment provider's page to send the admin to; null when the "
        "change was made at once (a subscription already paid through the provider).",
    )


@extend_schema_serializer(component_name="BillingPlan")
class PlanOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    currency = serializers.CharField()
    price_monthly_cents = serializers.IntegerField()
    price_yearly_cents = serializers.IntegerField(allow_null=True)
    trial_days = serializers.IntegerField()
    max_users = serializers.IntegerField(allow_null=True)
    max_courses = serializers.IntegerField(allow_null=True)
    max_storage_bytes = serializers.IntegerField(allow_null=True)
    features = serializers.SerializerMethodField()
    intervals_for_sale = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.BooleanField()))
    def get_features(self, plan) -> dict:
        return {feature: plan.has_feature(feature) for feature in Feature.values}

    # Plain strings: a second enum of the same choices would get a second name.
    @extend_schema_field(
        serializers.ListField(child=serializers.CharField(), help_text="`month`, `year`.")
    )
    def get_intervals_for_sale(self, plan) -> list[str]:
        """Intervals an admin can pay online (the plan has a Stripe price for them)."""
        return [interval for interval in Interval.values if plan.stripe_price(interval)]


class _QuantitiesOutput(serializers.Serializer):
    users = serializers.IntegerField(allow_null=True)
    courses = serializers.IntegerField(allow_null=True)
    storage_bytes = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="InstitutionSubscription")
class SubscriptionOutput(serializers.Serializer):
    plan = PlanOutput(allow_null=True)
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices)
    interval = serializers.ChoiceField(choices=Interval.choices)
    current_period_end = serializers.DateTimeField(allow_null=True)
    trial_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    past_due_since = serializers.DateTimeField(allow_null=True)
    read_only_at = serializers.DateTimeField(
        allow_null=True, help_text="From this moment the institution is read-only until paid."
    )
    read_only = serializers.BooleanField()
    billing_enabled = serializers.BooleanField(
        help_text="False: no online payment; the operator assigns plans."
    )
    has_billing_account = serializers.BooleanField(
        help_text="True: the customer portal is available."
    )
    limits = _QuantitiesOutput(help_text="null: unlimited.")
    usage = _QuantitiesOutput()
    features = serializers.DictField(child=serializers.BooleanField())
