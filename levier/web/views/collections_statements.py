"""Encaissements › Relevés: upload bank statement files, see what each one gave.

Each file goes through `import_statement_file` on its own: one refused file (its error
names the line or XML element) imports nothing and does not stop the others. The same
file uploaded twice imports nothing the second time (the service keeps its SHA-256), so
reloading the result page is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied, require
from levier.collections.models import StatementFile
from levier.collections.services import MAX_FILE_BYTES, ImportReport, import_statement_file
from levier.collections.statements.model import StatementError
from levier.web.forms_collections import StatementUploadForm
from levier.web.views.collections_common import (
    REFUSALS,
    paginate,
    permission_flags,
    refusal_status,
    require_reader,
)
from levier.web.views.orders import refusal_text

log = logging.getLogger(__name__)


def _page(
    request: HttpRequest,
    form: StatementUploadForm,
    reports: list[ImportReport] | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = require_reader(request, Action.IMPORT_BANK_STATEMENTS)
    files = StatementFile.objects.select_related("imported_by").order_by("-imported_at", "-pk")
    context: dict[str, Any] = {
        "form": form,
        "reports": reports or [],
        "page": paginate(request, files),
        **permission_flags(actor),
    }
    return render(request, "web/collections/statements.html", context, status=status)


def _import_one(actor: User, upload: Any) -> ImportReport:
    name = str(upload.name or "relevé")[:255]
    data = upload.read(MAX_FILE_BYTES + 1)
    try:
        return import_statement_file(actor=actor, data=data, filename=name)
    except StatementError as exc:
        return ImportReport(file=name, error=str(exc))
    except ValueError as exc:
        # A parser that should have said StatementError (a bug to fix there): the file is
        # still refused whole, and the user told so, rather than a server error.
        log.exception("statement file %s: unexpected parser error", name)
        return ImportReport(file=name, error=f"{name}: {exc}")


@login_required
@require_http_methods(["GET", "POST"])
def statements(request: HttpRequest) -> HttpResponse:
    """GET: the upload form and the files imported. POST: import each file, report each."""
    actor = require_reader(request, Action.IMPORT_BANK_STATEMENTS)
    if request.method != "POST":
        return _page(request, StatementUploadForm())
    form = StatementUploadForm(request.POST, request.FILES)
    try:
        require(actor, Action.IMPORT_BANK_STATEMENTS)
    except PermissionDenied as exc:
        form.add_error(None, refusal_text(exc))
        return _page(request, form, status=403)
    if not form.is_valid():
        return _page(request, form, status=400)
    reports: list[ImportReport] = []
    for upload in form.cleaned_data["statement_files"]:
        try:
            reports.append(_import_one(actor, upload))
        except REFUSALS as exc:
            form.add_error(None, refusal_text(exc))
            return _page(request, form, reports, status=refusal_status(exc))
    refused = all(report.error for report in reports)
    return _page(request, StatementUploadForm(), reports, status=400 if refused else 200)
