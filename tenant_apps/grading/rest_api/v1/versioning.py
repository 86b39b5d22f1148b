"""The version a grader read, from the body's `version` or an If-Match
header: every endpoint that changes a grade (here and in the assignments app)
reads it the same way, and documents the header the same way."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from conceptspro.api import ApplicationError

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The grade\'s ETag ("<version>"), instead of `version` in the body.',
)


def expected_version(request, body_version: int | None, *, required: bool = True) -> int | None:
    """The version the grader read. Both given and different, or an If-Match
    that is not one of our ETags, is a 400; neither given is a 400 when
    `required` (a change to a grade), None otherwise (a first grade)."""
    header = request.headers.get("If-Match")
    from_header = None
    if header is not None:
        tag = header.strip().removeprefix("W/").strip('"')
        if not tag.isdigit() or len(tag) > 9:
            raise ApplicationError(
                'If-Match must be the grade\'s ETag, "<version>".',
                code="invalid",
                fields={"If-Match": ["Not an ETag of this API."]},
            )
        from_header = int(tag)
    if body_version is not None and from_header is not None and body_version != from_header:
        raise ApplicationError(
            "The body's version and If-Match disagree.",
            code="invalid",
            fields={"version": ["Differs from If-Match."]},
        )
    version = body_version if body_version is not None else from_header
    if version is None and required:
        raise ApplicationError(
            "Send the version you read, in the body or as If-Match.",
            code="invalid",
            fields={"version": ["Required (or an If-Match header)."]},
        )
    return version
