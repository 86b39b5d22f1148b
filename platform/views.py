"""Pages of an institution's own site that belong to no app: its home page."""

from django.shortcuts import render


def institution_home(request):
    return render(request, "tenant/home.html", {"institution": request.tenant})
