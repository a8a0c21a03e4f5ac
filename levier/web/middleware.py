"""Turns domain errors escaping a view into a 4xx page or JSON, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render

from levier.accounts.permissions import PermissionDenied
from levier.lib.errors import DomainError
from levier.sales.transitions import InvalidTransition


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        errors: dict[str, list[str]] = {}
        if isinstance(exc, PermissionDenied):
            status, message = 403, str(exc)
        elif isinstance(exc, InvalidTransition):
            status, message = 409, str(exc)
        elif isinstance(exc, DomainError):
            status, message, errors = exc.http_status, exc.message, exc.errors
        else:
            return None
        wants_json = request.path.startswith("/api/") or "application/json" in request.headers.get(
            "Accept", ""
        )
        if wants_json:
            return JsonResponse({"error": message, "errors": errors}, status=status)
        return render(
            request,
            "web/error.html",
            {"status": status, "message": message, "errors": errors},
            status=status,
        )


class FrenchFirstLocaleMiddleware(LocaleMiddleware):
    """French unless the user picked another language with the switch (cookie or session).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a French ADV
    clerk with an English browser would get English screens; Levier speaks French first.
    """

    def process_request(self, request: HttpRequest) -> None:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)
