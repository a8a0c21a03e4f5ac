"""Audit ADV: run the ADV structuring audit on an uploaded FEC or on Levier's data, read the
report, answer the questionnaire, reopen and download past audits (Direction, Auditeur,
Administrateur: `RUN_ADV_AUDIT`).

**Upload.** The FEC is streamed to a file of its own temporary folder as it arrives
(`FecUploadHandler`: never held in memory, hashed on the way, stopped past
`LEVIER_AUDIT_MAX_UPLOAD_BYTES`, 500 MB by default), keeping its name, which the reader reads
the SIREN and closing date from; the folder is removed once the audit is done. Only the
figures, answers and report JSON are kept (`AuditRun`), never the file.

**Synchronous.** The audit runs in the request, not through `levier.jobs`: a job takes
JSON-safe arguments and, on Celery, runs on a worker that does not see this server's
temporary folder, so it would need the FEC stored (which the audit must not do); and a
refused file must come back on the form with its line numbers, which a background job
cannot do. The FEC reader's target is 1 million lines in under 30 s.

**Bad input** (not a FEC, a bad answers file, a bad parameter) comes back on the form, each
message naming the file, line, question or field, with a 400; never a 500.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import get_valid_filename, slugify
from django.utils.translation import get_language, gettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.advaudit.fec.reader import FecUnreadable
from levier.advaudit.forms import AuditStartForm, QuestionnaireForm, max_upload_bytes
from levier.advaudit.models import AuditRun
from levier.advaudit.questionnaire import Answers, AnswersError, load_answers
from levier.advaudit.report import render_html, render_pdf
from levier.advaudit.services import (
    AuditError,
    AuditParameters,
    audit_fec,
    audit_levier,
    rescore_audit_run,
    save_audit_run,
)
from levier.web.views.customers import request_actor

FEC_FIELD = "fec"
PAGE_SIZE = 20
DOWNLOADS = {
    "pdf": "application/pdf",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


class StoredUpload(UploadedFile):
    """The uploaded FEC, already on disk under its own name, with its SHA-256."""

    def __init__(self, path: Path, size: int, sha256: str, content_type: str) -> None:
        super().__init__(file=path.open("rb"), name=path.name, content_type=content_type, size=size)
        self.path = path
        self.sha256 = sha256


class FecUploadHandler(FileUploadHandler):
    """Writes the `fec` field to `<temporary folder>/<its name>`, hashing it, and skips the
    file (flagging `too_large`) past `limit` bytes; other fields go to Django's handlers."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large = False
        self.directory: Path | None = None
        self._path: Path | None = None
        self._sink: Any = None
        self._digest = hashlib.sha256()
        self._size = 0

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self._sink = None
        if field_name != FEC_FIELD:
            return
        if self.content_length and self.content_length > self.limit:
            self.too_large = True
            raise SkipFile()
        self.close()
        self.directory = Path(tempfile.mkdtemp(prefix="levier-fec-upload-"))
        name = get_valid_filename(Path(str(file_name or "")).name)[:200] or "fec.txt"
        self._path = self.directory / name
        self._sink = self._path.open("wb")
        self._digest = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self._sink is None:
            return raw_data
        self._size += len(raw_data)
        if self._size > self.limit:
            self.too_large = True
            self.close()
            raise SkipFile()
        self._sink.write(raw_data)
        self._digest.update(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self._sink is None or self._path is None:
            return None
        self._sink.close()
        self._sink = None
        return StoredUpload(
            self._path, self._size, self._digest.hexdigest(), str(self.content_type or "")
        )

    def upload_interrupted(self) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary folder (and the FEC in it)."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _actor(request: HttpRequest) -> User:
    actor = request_actor(request)
    require(actor, Action.RUN_ADV_AUDIT)
    return actor


def _index_page(request: HttpRequest, form: AuditStartForm, status: int = 200) -> HttpResponse:
    runs = AuditRun.objects.select_related("created_by").defer("result", "answers")
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/advaudit/index.html",
        {
            "form": form,
            "page": page,
            "max_upload_mb": max_upload_bytes() // (1024 * 1024),
        },
        status=status,
    )


def _answers_from_upload(upload: UploadedFile, folder: Path) -> Answers:
    """Answers from the uploaded YAML; problems name the file as uploaded, not the copy."""
    name = get_valid_filename(Path(str(upload.name or "")).name)[:200] or "answers.yaml"
    path = folder / f"answers-{name}"
    with path.open("wb") as sink:
        for chunk in upload.chunks():
            sink.write(chunk)
    try:
        return load_answers(path)
    except AnswersError as exc:
        shown = str(upload.name or name)
        raise AnswersError(
            [problem.replace(str(path), shown) for problem in exc.problems]
        ) from None


def _run(request: HttpRequest, actor: User, handler: FecUploadHandler) -> HttpResponse:
    form = AuditStartForm(request.POST, request.FILES)
    if handler.too_large:
        form.add_error(
            "fec",
            gettext("The FEC is larger than %(limit)s MB, the limit of this server.")
            % {"limit": max_upload_bytes() // (1024 * 1024)},
        )
    if not form.is_valid():
        return _index_page(request, form, status=400)
    data = form.cleaned_data
    parameters: AuditParameters = data["parameters"]
    folder = Path(tempfile.mkdtemp(prefix="levier-audit-"))
    try:
        answers = None
        if data.get("answers") is not None:
            try:
                answers = _answers_from_upload(data["answers"], folder)
            except AnswersError as exc:
                for problem in exc.problems:
                    form.add_error("answers", problem)
                return _index_page(request, form, status=400)
        try:
            if data["source"] == "levier":
                result = audit_levier(
                    as_of=data.get("as_of") or timezone.localdate(),
                    answers=answers,
                    parameters=parameters,
                )
            else:
                upload = data["fec"]
                path = upload.path if isinstance(upload, StoredUpload) else None
                if path is None:  # another handler took it (tests may change the handlers)
                    path = folder / (get_valid_filename(str(upload.name)) or "fec.txt")
                    with path.open("wb") as sink:
                        for chunk in upload.chunks():
                            sink.write(chunk)
                result = audit_fec(
                    path,
                    answers=answers,
                    as_of=data.get("as_of"),
                    parameters=parameters,
                    sha256=getattr(upload, "sha256", None),
                )
        except FecUnreadable as exc:
            form.add_error("fec", str(exc))
            return _index_page(request, form, status=400)
        except AuditError as exc:
            form.add_error(None, str(exc))
            return _index_page(request, form, status=400)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        handler.close()
    run = save_audit_run(actor=actor, result=result)
    return redirect("web:advaudit_detail", pk=run.pk)


@csrf_protect
def _index_protected(request: HttpRequest, handler: FecUploadHandler) -> HttpResponse:
    actor = _actor(request)
    if request.method != "POST":
        return _index_page(request, AuditStartForm())
    return _run(request, actor, handler)


@csrf_exempt  # checked by csrf_protect once the upload handlers are in place
@login_required
@require_http_methods(["GET", "POST"])
def advaudit_index(request: HttpRequest) -> HttpResponse:
    """GET: the form and the past audits. POST: run an audit, then show its report."""
    _actor(request)  # refused before the body (a file of up to 500 MB) is read
    handler = FecUploadHandler(request, max_upload_bytes())
    request.upload_handlers = [handler, *request.upload_handlers]
    try:
        return _index_protected(request, handler)
    finally:
        handler.close()


def _run_of(pk: int) -> AuditRun:
    return get_object_or_404(AuditRun.objects.select_related("created_by"), pk=pk)


@login_required
@require_GET
def advaudit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _actor(request)
    run = _run_of(pk)
    return render(
        request,
        "web/advaudit/detail.html",
        {"run": run, "report": render_html(run.result, standalone=False)},
    )


def _filename(run: AuditRun, extension: str) -> str:
    name = slugify(run.company_name)[:60] or "entreprise"
    return f"audit-adv-{name}-{run.as_of.isoformat()}.{extension}"


@login_required
@require_GET
def advaudit_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    _actor(request)
    if fmt not in DOWNLOADS:
        raise Http404(gettext("No such report format"))
    run = _run_of(pk)
    body: bytes | str
    if fmt == "pdf":
        body = render_pdf(run.result)
    elif fmt == "html":
        body = render_html(run.result, standalone=True)
    else:
        body = json.dumps(run.result, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type=DOWNLOADS[fmt])
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=_filename(run, fmt)) or "attachment"
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def advaudit_questionnaire(request: HttpRequest, pk: int) -> HttpResponse:
    """The 42 questions with the stored answers; the data's scores shown beside them."""
    actor = _actor(request)
    run = _run_of(pk)
    prefilled = {
        question["id"]: question["prefilled"]
        for question in (run.result.get("maturity") or {}).get("questions", [])
        if question.get("prefilled")
    }
    if request.method == "POST":
        form = QuestionnaireForm(request.POST, initial_answers=run.answers)
        if form.is_valid():
            scores, comments = form.answers()
            try:
                rescore_audit_run(actor=actor, run=run, answers=scores, comments=comments)
            except (AnswersError, AuditError) as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(f"{reverse('web:advaudit_detail', args=[run.pk])}#adv-maturity")
        status = 400
    else:
        form = QuestionnaireForm(initial_answers=run.answers)
        status = 200
    english = (get_language() or "fr").startswith("en")
    groups = form.pillars()
    for group in groups:
        for question in group["questions"]:
            data = prefilled.get(question["id"])
            question["prefilled"] = (
                None
                if data is None
                else {
                    "score": data["score"],
                    "reason": data["reason_en"] if english else data["reason_fr"],
                }
            )
    return render(
        request,
        "web/advaudit/questionnaire.html",
        {"run": run, "form": form, "groups": groups},
        status=status,
    )


__all__ = [
    "FecUploadHandler",
    "advaudit_detail",
    "advaudit_download",
    "advaudit_index",
    "advaudit_questionnaire",
]
