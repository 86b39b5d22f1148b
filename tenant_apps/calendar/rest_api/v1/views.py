"""The calendar API: /calendar/events/, /calendar/upcoming/ and the caller's
iCal feed, /calendar/feed/. Who may call what is stated on each view;
tenant_apps.calendar.policies decides.

An event a caller may not see (another person's personal event, a course's
they are not in, a deleted one) is a 404, so its existence does not leak; one
they see but may not change is a 403.
"""

from datetime import timedelta

from allauth.utils import build_absolute_uri
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import ApplicationError
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.calendar import policies, selectors, services
from tenant_apps.calendar.models import CalendarEvent
from tenant_apps.calendar.recurrence import EARLIEST, LATEST
from tenant_apps.courses.api import course_access_or_404
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    CalendarItemOutput,
    CalendarRangeQuery,
    EventChangeInput,
    EventCreateInput,
    EventOutput,
    EventScopeQuery,
    FeedCreatedOutput,
    FeedStatusOutput,
    UpcomingQuery,
)

MAX_RANGE = timedelta(days=366)
ARCHIVED = OpenApiResponse(description="Conflict: `course_archived`, the course is archived.")
ARCHIVED_OR_CANCELLED = OpenApiResponse(
    description="Conflict: `course_archived` (the course is archived) or "
    "`occurrence_cancelled` (that occurrence was cancelled)."
)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _range(query: dict) -> tuple:
    start, end = query["start"], query["end"]
    if end <= start:
        raise ApplicationError(
            "end must be later than start.",
            code="end_before_start",
            fields={"end": ["Must be later than start."]},
        )
    if end - start > MAX_RANGE:
        raise ApplicationError(
            "Ask for at most 366 days at a time.",
            code="range_too_long",
            fields={"end": ["At most 366 days after start."]},
        )
    if start < EARLIEST - MAX_RANGE or end > LATEST + MAX_RANGE:
        raise ApplicationError(
            f"Calendars run from {EARLIEST:%Y} to {LATEST:%Y}.",
            code="date_out_of_range",
            fields={"start": ["Out of range."]},
        )
    return start, end


def _accesses(request, course_id):
    return selectors.calendar_accesses(request.user, course_id=course_id)


class CalendarEventsView(GenericAPIView):
    """GET /calendar/events/?start=&end=: the caller's calendar between two
    times (at most 366 days apart): occurrences of their personal events and
    of their courses' events (recurring ones expanded, changed occurrences as
    changed, cancelled ones left out), and the due dates of the assignments
    and quizzes of their courses (students: published ones, with their
    submission status). Any active member. Their courses: those they teach,
    assist in or hold a seat in (published); `course` narrows to one course
    whose content they may see (admins: any course). `type` filters.
    POST: create an event. Any active member makes personal events (no
    `course_id`); course events are made by the course's instructor, admins
    and TAs (students and graders: 403). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = CalendarItemOutput
    filter_backends: list = []
    queryset = CalendarEvent.objects.none()  # the real one depends on the caller

    @extend_schema(parameters=[CalendarRangeQuery], responses=CalendarItemOutput(many=True))
    def get(self, request):
        query = _query(CalendarRangeQuery, request)
        start, end = _range(query)
        course_id = query.get("course")
        items = selectors.calendar_items(
            request.user,
            _accesses(request, course_id),
            lo=start,
            hi=end,
            personal=course_id is None,
            event_type=query.get("type"),
        )
        page = self.paginate_queryset(items)
        return self.get_paginated_response(CalendarItemOutput(page, many=True).data)

    @extend_schema(request=EventCreateInput, responses={201: EventOutput, 409: ARCHIVED})
    @idempotent
    def post(self, request):
        data = EventCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        course_id = values.pop("course_id", None)
        course = None
        if course_id is not None:
            access = course_access_or_404(request.user, course_id)
            if not policies.can_view_course_events(access):
                raise PermissionDenied("Only the course's staff and students see its calendar.")
            if not policies.can_create_course_event(access):
                raise PermissionDenied(
                    "Only the course's instructors and TAs may add events to its calendar."
                )
            course = access.course
        event = services.event_create(actor=request.user, course=course, **values)
        _, event = selectors.event_visible_or_404(request.user, event.pk)
        return Response(
            EventOutput(event, context={"can_edit": True}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/calendar/events/{event.pk}/"},
        )


class CalendarEventDetailView(GenericAPIView):
    """GET /calendar/events/{id}/: the event (for a recurring one, the series
    with its changed and cancelled occurrences). Its creator for a personal
    event; for a course event, whoever may see the course's content.
    PUT, PATCH: change it; DELETE: delete it (soft). A personal event: its
    creator. A course event: the instructor and admins; a TA, the events they
    made. For a recurring event, `scope` and `occurrence` (its original start)
    say what changes: `this` occurrence (title, description, location, start
    and end only; DELETE cancels it), it and the `following` ones (the series
    is split there), or `all` (the default). When the series' timing changes,
    changed occurrences move with it, and those the new series no longer has
    are dropped. PUT needs the title, type and start (for `this`: resets what
    is not given to the series' values); PATCH any subset."""

    permission_classes = [IsActiveMember]
    serializer_class = EventOutput
    filter_backends: list = []
    queryset = CalendarEvent.objects.none()  # the real one depends on the caller

    def _visible(self, request, pk):
        return selectors.event_visible_or_404(request.user, pk)

    def _changeable(self, request, pk):
        access, event = self._visible(request, pk)
        if not policies.can_change_event(request.user, event, access):
            raise PermissionDenied("You may not change this event.")
        return access, event

    def _output(self, request, pk) -> dict:
        access, event = self._visible(request, pk)
        can_edit = policies.can_change_event(request.user, event, access)
        return EventOutput(event, context={"can_edit": can_edit}).data

    def get(self, request, pk):
        return Response(self._output(request, pk))

    def _update(self, request, pk, *, partial: bool):
        _, event = self._changeable(request, pk)
        scope = _query(EventScopeQuery, request)
        occurrence_only = scope["scope"] == services.Scope.THIS
        data = EventChangeInput(data=request.data, partial=partial or occurrence_only)
        data.is_valid(raise_exception=True)
        changed = services.event_update(
            event=event,
            scope=scope["scope"],
            occurrence=scope.get("occurrence"),
            full=not partial,
            **data.validated_data,
        )
        return Response(self._output(request, changed.pk))

    @extend_schema(
        parameters=[EventScopeQuery],
        request=EventChangeInput,
        responses={200: EventOutput, 409: ARCHIVED_OR_CANCELLED},
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        parameters=[EventScopeQuery],
        request=EventChangeInput,
        responses={200: EventOutput, 409: ARCHIVED_OR_CANCELLED},
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(parameters=[EventScopeQuery], responses={204: None, 409: ARCHIVED})
    def delete(self, request, pk):
        _, event = self._changeable(request, pk)
        scope = _query(EventScopeQuery, request)
        services.event_delete(event=event, scope=scope["scope"], occurrence=scope.get("occurrence"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarUpcomingView(GenericAPIView):
    """GET /calendar/upcoming/?days=7: what is next on the caller's calendar
    (as GET /calendar/events/ from now), soonest first: events under way or
    starting within `days` (1 to 60), due dates within them; at most `limit`
    (default 50). Any active member."""

    permission_classes = [IsActiveMember]
    serializer_class = CalendarItemOutput
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[UpcomingQuery], responses=CalendarItemOutput(many=True))
    def get(self, request):
        query = _query(UpcomingQuery, request)
        now = timezone.now().replace(microsecond=0)
        course_id = query.get("course")
        items = selectors.calendar_items(
            request.user,
            _accesses(request, course_id),
            lo=now,
            hi=now + timedelta(days=query["days"]),
            personal=course_id is None,
            limit=query["limit"],
        )
        return Response(CalendarItemOutput(items, many=True).data)


class CalendarFeedView(GenericAPIView):
    """The caller's secret iCal feed, for subscribing from a calendar program
    (their personal and course events and due dates, with their submission
    status). Any active member, for themselves.
    GET: whether they have one (never its URL). POST: make one, or replace
    the old one (its URL stops working); the URL is in this answer only. Not
    idempotent by key: a stored answer would keep the secret. DELETE: revoke
    it (204 also when there was none)."""

    permission_classes = [IsActiveMember]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(responses=FeedStatusOutput)
    def get(self, request):
        feed = selectors.feed_of(request.user)
        return Response(
            FeedStatusOutput(
                {
                    "exists": feed is not None,
                    "created_at": feed.created_at if feed else None,
                    "last_fetched_at": feed.last_fetched_at if feed else None,
                }
            ).data
        )

    @extend_schema(request=None, responses={201: FeedCreatedOutput})
    def post(self, request):
        feed, token = services.feed_rotate(user=request.user)
        url = build_absolute_uri(
            request._request, reverse("calendar-feed", kwargs={"token": token})
        )
        webcal = "webcal://" + url.split("://", 1)[1]
        return Response(
            FeedCreatedOutput(
                {"url": url, "webcal_url": webcal, "created_at": feed.created_at}
            ).data,
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.feed_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
