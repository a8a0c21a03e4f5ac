from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from levier.audit.choices import Channel
from levier.audit.context import channel


class AuditChannelMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        value = Channel.API if request.path.startswith("/api/") else Channel.UI
        with channel(value):
            return self.get_response(request)
