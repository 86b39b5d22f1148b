"""Pages of the platform itself: the public landing page and an institution's home."""

from django.conf import settings
from django.shortcuts import render


def _port(request) -> str:
    host = request.get_host()
    return ":" + host.rsplit(":", 1)[1] if ":" in host else ""


def landing(request):
    return render(
        request,
        "public/landing.html",
        {"base_domain": settings.BASE_DOMAIN, "port": _port(request)},
    )


def institution_home(request):
    return render(request, "tenant/home.html", {"institution": request.tenant})
