"""An institution admin's subscription, under /api/v1/institution/subscription/:
what they have and use, the plans they can move to, Stripe Checkout to pay for
one, and Stripe's customer portal.

Institution admins only (IsInstitutionAdmin), on their own institution's host;
instructors and students get 403, another institution's token 401. These stay
open while the institution is read-only, so that its admin can pay.
"""

from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import ApplicationError
from tenant_apps.accounts.api import IsInstitutionAdmin

from .. import selectors, services
from .serializers import (
    CheckoutInput,
    PlanOutput,
    PortalInput,
    RedirectOutput,
    SubscriptionOutput,
)


def _absolute(request, path: str) -> str:
    # Not build_absolute_uri: it percent-encodes the braces of Stripe's
    # {CHECKOUT_SESSION_ID} placeholder, which Stripe then never fills in.
    return f"{request.scheme}://{request.get_host()}{path}"


class SubscriptionView(APIView):
    """GET: the plan, billing state, limits and usage. Institution admins only."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(operation_id="institution_subscription_retrieve", responses=SubscriptionOutput)
    def get(self, request):
        overview = selectors.subscription_overview(institution_id=connection.tenant.pk)
        return Response(SubscriptionOutput(overview).data)


class PlanListView(APIView):
    """GET: the public plans (prices, limits, features, what can be paid
    online). Institution admins only."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(operation_id="institution_subscription_plans", responses=PlanOutput(many=True))
    def get(self, request):
        return Response(PlanOutput(selectors.plans_for_sale(), many=True).data)


class CheckoutView(APIView):
    """POST {plan, interval}: move to a paid plan. Without a subscription paid
    through Stripe the answer is Checkout's URL, where the admin pays; the plan
    changes when Stripe confirms. With one, the price changes in Stripe at once
    (prorated) and `url` is null. Institution admins only."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(
        operation_id="institution_subscription_checkout",
        request=CheckoutInput,
        responses={
            200: RedirectOutput,
            409: OpenApiResponse(description="`billing_disabled`, `already_on_plan`."),
            502: OpenApiResponse(description="`billing_provider_error`."),
        },
    )
    def post(self, request):
        serializer = CheckoutInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        plan = selectors.plan_for_sale(data["plan"])
        if plan is None:
            raise ApplicationError(
                "No such plan.", code="invalid", fields={"plan": ["No public plan has this code."]}
            )
        back = data.get("return_path", "/")
        separator = "&" if "?" in back else "?"
        url = services.checkout_start_upgrade(
            institution=selectors.institution_current(),
            plan=plan,
            interval=data["interval"],
            success_url=_absolute(
                request, f"{back}{separator}checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
            ),
            cancel_url=_absolute(request, f"{back}{separator}checkout=canceled"),
            customer_email=request.user.email,
        )
        return Response(RedirectOutput({"url": url}).data)


class PortalView(APIView):
    """POST: the URL of Stripe's customer portal (card, invoices, cancellation).
    Institution admins only."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(
        operation_id="institution_subscription_portal",
        request=PortalInput,
        responses={
            200: RedirectOutput,
            409: OpenApiResponse(description="`billing_disabled`, `no_billing_account`."),
            502: OpenApiResponse(description="`billing_provider_error`."),
        },
    )
    def post(self, request):
        serializer = PortalInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = services.portal_session_create(
            institution=selectors.institution_current(),
            return_url=_absolute(request, serializer.validated_data.get("return_path", "/")),
        )
        return Response(RedirectOutput({"url": url}).data)
