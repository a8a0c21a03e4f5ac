"""No input produces a 500: every route of the app, found from the URLconf, gets junk.

Routes are discovered, not listed, so a new screen is covered the day it is added. Integer
path arguments get the id of a real object of each kind and an id that does not exist;
string arguments get a valid role and junk.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.catalog.tests.factories import ProductFactory
from levier.customers.tests.factories import CustomerFactory
from levier.sales.services import create_quote, submit_order
from levier.sales.tests.factories import line, make_order, standard_rules

pytestmark = pytest.mark.django_db

JUNK_BODIES: list[dict[str, object]] = [
    {},
    {"version": "abc", "comment": "x" * 5000, "lines-0-quantity": "1e400", "siren": "\x00"},
    {
        "customer": "-1",
        "customer_id": "99999999999999999999999",
        "lines-TOTAL_FORMS": "100000",
        "lines-0-product": "'; DROP TABLE x; --",
        "lines-0-unit_price": "NaN",
        "payment_terms_days": "9999999999",
        "threshold": "1e999",
        "expected_version": "-5",
        "q": "%" * 300,
        "page": "-1",
    },
    {"field": "iban", "value": "FR76" + "9" * 200, "kind": "???", "role": "root", "keep": "x"},
]
SKIP_PREFIXES = ("django-admin/", "i18n/", "static/", "logout/")


def routes(
    resolver: URLResolver | None = None, prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry, route)
        elif not route.startswith(SKIP_PREFIXES):
            yield route, entry


def concrete_paths(route: str, ids: list[int]) -> list[str]:
    """Fill <int:…> with real and missing ids, <str:…> with a role and junk."""
    path = "/" + route.replace("^", "").replace("$", "")
    if "<int:" not in path and "<str:" not in path and "<slug:" not in path:
        return [path]
    out: list[str] = []
    for value in [*ids, 987654321]:
        out.append(_fill(path, str(value), "adv"))
    out.append(_fill(path, "1", "%3Cscript%3E"))
    return out


def _fill(path: str, int_value: str, str_value: str) -> str:
    import re

    path = re.sub(r"<int:\w+>", int_value, path)
    return re.sub(r"<(?:str|slug):\w+>", str_value, path)


def test_every_route_answers_junk_with_a_4xx_or_a_page_never_a_500(
    personas: dict[Role, User],
) -> None:
    standard_rules()
    commercial = personas[Role.COMMERCIAL]
    customer = CustomerFactory()
    product = ProductFactory()
    submitted = submit_order(actor=commercial, order=make_order(commercial, customer=customer))
    draft = make_order(commercial, customer=customer)
    quote = create_quote(actor=commercial, customer=customer, lines=[line()])
    ids = sorted({customer.pk, product.pk, submitted.pk, draft.pk, quote.pk, 1})
    all_routes = list(routes())
    assert len(all_routes) > 20  # the discovery really found the app's screens

    for role in (Role.COMMERCIAL, Role.ADV, Role.ADMINISTRATEUR, Role.AUDITEUR):
        client = Client(HTTP_ACCEPT="text/html")
        client.force_login(personas[role])
        client.raise_request_exception = True  # an unhandled exception fails loudly
        for route, _pattern in all_routes:
            for path in concrete_paths(route, ids):
                for body in JUNK_BODIES:
                    for response in (
                        client.get(path, body),
                        client.post(path, body),
                        client.post(path, body, HTTP_HX_REQUEST="true"),
                    ):
                        assert response.status_code < 500, (role, path, body)
                upload = {
                    "file": io.BytesIO(b"\xff\xfe\x00junk;;;\n" * 50),
                    "csv": io.BytesIO(b"a,b\n"),
                }
                response = client.post(path, upload)
                assert response.status_code < 500, (role, path, "upload")


def test_anonymous_visitors_are_sent_to_the_login_page_everywhere() -> None:
    client = Client()
    client.raise_request_exception = True
    for route, _pattern in routes():
        for path in concrete_paths(route, [1]):
            if path in ("/login/", "/healthz"):
                continue
            response = client.get(path)
            assert response.status_code in (302, 403, 404, 405), path
            if response.status_code == 302:
                assert response["Location"].startswith("/login/"), path
