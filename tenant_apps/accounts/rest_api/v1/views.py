"""The users API (/api/v1/users/). Who may call what is stated on each view
and decided by tenant_apps.accounts.policies."""

import django_filters
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import OrderingFilter, updated_since_filter
from tenant_apps.accounts import policies, selectors, services
from tenant_apps.accounts.models import Role, User

from .serializers import (
    AdminUserInput,
    PreferencesInput,
    PreferencesOutput,
    ProfileInput,
    UserCardOutput,
    UserOutput,
    UserProfileOutput,
)


class MeView(APIView):
    """GET, PUT, PATCH /users/me/: the signed-in user's own profile. Any active
    member. PUT and PATCH both accept any subset of the editable fields (names,
    phone, image, bio, timezone, locale); email and role are not self-service."""

    permission_classes = [policies.IsActiveMember]

    @extend_schema(responses=UserOutput)
    def get(self, request):
        return Response(UserOutput(request.user).data)

    # PUT and PATCH alike: any subset of the fields.
    @extend_schema(request=ProfileInput(partial=True), responses=UserOutput)
    def put(self, request):
        data = ProfileInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_profile_update(
            user=request.user, request=request, **data.validated_data
        )
        return Response(UserOutput(user).data)

    patch = put


class MyPreferencesView(APIView):
    """GET, PUT, PATCH /users/me/preferences/: the signed-in user's preferences.
    Any active member. PATCH merges keys into each section; PUT replaces the
    sections it names."""

    permission_classes = [policies.IsActiveMember]

    @extend_schema(responses=PreferencesOutput)
    def get(self, request):
        return Response(PreferencesOutput(selectors.user_preferences(request.user)).data)

    @extend_schema(request=PreferencesInput(partial=True), responses=PreferencesOutput)
    def put(self, request):
        return self._update(request, replace=True)

    @extend_schema(request=PreferencesInput(partial=True), responses=PreferencesOutput)
    def patch(self, request):
        return self._update(request, replace=False)

    def _update(self, request, *, replace: bool):
        data = PreferencesInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        preferences = services.user_preferences_update(
            user=request.user, replace=replace, **data.validated_data
        )
        return Response(PreferencesOutput(preferences).data)


class UserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="_search", help_text="Name, email or id.")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_suspended = django_filters.BooleanFilter()
    updated_since = updated_since_filter()
    ordering = OrderingFilter(
        fields=["last_name", "first_name", "email", "created_at", "updated_at", "role"]
    )

    class Meta:
        model = User
        fields = ["q", "role", "is_suspended", "updated_since"]

    def _search(self, queryset, name, value):
        return selectors.user_search(queryset, value)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "include_deleted",
            OpenApiTypes.BOOL,
            description="Include soft-deleted users (`true` or `1`).",
        )
    ]
)
class UserListView(ListAPIView):
    """GET /users/: the institution's users, paginated. Admins only. Filters:
    q (search), role, is_suspended, updated_since, include_deleted; ordering."""

    permission_classes = [policies.IsInstitutionAdmin]
    serializer_class = UserOutput
    filterset_class = UserFilter

    def get_queryset(self):
        include_deleted = self.request.query_params.get("include_deleted") in ("1", "true")
        return selectors.user_list(include_deleted=include_deleted).order_by(
            "last_name", "first_name", "id"
        )


class UserDetailView(APIView):
    """GET /users/{id}/: any active member gets the limited profile card of a
    current user; admins get everything, deleted users included.
    PUT, PATCH /users/{id}/: admins only (profile, role, ids, suspension).
    DELETE /users/{id}/: admins only; a soft delete."""

    permission_classes = [policies.IsActiveMember]

    def _user(self, request, pk) -> User:
        user = get_object_or_404(User, pk=pk)
        if not policies.can_view_user_profile(request.user, user):
            raise Http404  # deleted users do not exist for non-admins
        return user

    def _managed_user(self, request, pk) -> User:
        user = self._user(request, pk)
        if not policies.can_manage_user(request.user, user):
            raise PermissionDenied("Only the institution's administrators may change users.")
        return user

    @extend_schema(responses=UserProfileOutput)
    def get(self, request, pk):
        user = self._user(request, pk)
        if policies.can_manage_user(request.user, user) or user.pk == request.user.pk:
            return Response(UserOutput(user).data)
        privacy = selectors.user_privacy(user)
        return Response(UserCardOutput(user, context={"privacy": privacy}).data)

    # PUT and PATCH alike: any subset of the fields.
    @extend_schema(
        request=AdminUserInput(partial=True),
        responses={
            200: UserOutput,
            409: OpenApiResponse(
                description="`cannot_modify_self`: an admin's own role or suspension; "
                "`conflict`: another user took the same student or employee id meanwhile."
            ),
        },
    )
    def put(self, request, pk):
        user = self._managed_user(request, pk)
        data = AdminUserInput(data=request.data, partial=True, context={"user": user})
        data.is_valid(raise_exception=True)
        user = services.user_update(
            actor=request.user, user=user, request=request, **data.validated_data
        )
        return Response(UserOutput(user).data)

    patch = put

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted (soft)."),
            409: OpenApiResponse(description="`cannot_modify_self`: one's own account."),
        }
    )
    def delete(self, request, pk):
        user = self._managed_user(request, pk)
        services.user_soft_delete(actor=request.user, user=user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
