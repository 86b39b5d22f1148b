"""Template context of an institution's pages: the billing notice its banner shows."""

from django.utils import timezone


def institution_notice(request) -> dict:
    """`institution_notice` while the institution's payment is overdue:
    {"read_only_at", "read_only"} from the row the router cached (no query);
    nothing otherwise, and nothing on the public site."""
    read_only_at = getattr(getattr(request, "tenant", None), "read_only_at", None)
    if read_only_at is None:
        return {}
    return {
        "institution_notice": {
            "read_only_at": read_only_at,
            "read_only": timezone.now() >= read_only_at,
        }
    }
