"""Relances: the preview of a run, the run itself, its history, scenarios and rates.

The preview is `plan_dunning(date)`: what a run on that date would do per customer (step,
channel, invoices, amounts, interest and indemnity) and every invoice skipped with its
reason; it writes nothing. "Lancer les relances" asks for a confirmation, then
`run_dunning` records the run in one transaction; the emails and letters are produced by
jobs after the commit, and the run's page shows each message's status as they go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.selectors import events_for
from levier.collections.choices import DunningChannel, MessageStatus, TaskKind
from levier.collections.dunning import (
    MERGE_FIELDS,
    SKIP_LABELS,
    DunningPlan,
    PlannedMessage,
    mark_reminder_printed,
    plan_dunning,
    render_step,
    run_dunning,
    save_step,
)
from levier.collections.interest import save_interest_rate
from levier.collections.models import (
    DunningMessage,
    DunningRun,
    DunningScenario,
    DunningStep,
    LateInterestRate,
)
from levier.collections.scenarios import create_scenario, delete_step
from levier.collections.statement import (
    letter_filename,
    reminder_letter_pdf,
    statement_filename,
)
from levier.lib.errors import ValidationFailed
from levier.web.forms_collections import (
    DunningRunForm,
    InterestRateForm,
    ScenarioForm,
    StepForm,
    bounded_day,
)
from levier.web.views.collections_common import (
    PAGE_SIZE,
    REFUSALS,
    form_errors_text,
    paginate,
    pdf_response,
    permission_flags,
    redirect_back,
    refusal_status,
    refuse,
    require_reader,
)
from levier.web.views.customers import put_errors
from levier.web.views.orders import refusal_text


@dataclass
class PreviewMessage:
    """One planned message and the text its customer would read (or why it does not render)."""

    planned: PlannedMessage
    subject: str = ""
    body: str = ""
    error: str = ""

    @property
    def channel_label(self) -> str:
        if self.planned.task_kind is not None:
            return str(TaskKind(self.planned.task_kind).label)
        return str(DunningChannel(self.planned.channel).label)


def _with_text(planned: list[PlannedMessage]) -> list[PreviewMessage]:
    out = []
    for message in planned:
        row = PreviewMessage(message)
        if message.task_kind is None:
            try:
                row.subject, row.body = render_step(message)
            except (ValidationFailed, ValueError) as exc:
                row.error = exc.message if isinstance(exc, ValidationFailed) else str(exc)
        out.append(row)
    return out


def _preview_page(
    request: HttpRequest,
    as_of: dt.date | None,
    form: Any,
    run_form: DunningRunForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = require_reader(request, Action.RUN_DUNNING)
    plan: DunningPlan | None = None
    error = ""
    if as_of is not None:
        try:
            plan = plan_dunning(as_of)
        except ValidationFailed as exc:
            error = exc.message
    context: dict[str, Any] = {
        "form": form,
        "as_of": as_of,
        "plan": plan,
        "plan_error": error,
        "run_form": run_form or DunningRunForm(initial={"run_date": as_of or timezone.localdate()}),
        "today": timezone.localdate(),
        **permission_flags(actor),
    }
    if plan is not None:
        page = paginate(request, plan.messages)
        context.update(
            page=page,
            previews=_with_text(list(page.object_list)),
            skipped=paginate_skipped(request, plan),
            skip_counts=[
                (reason, str(SKIP_LABELS.get(reason, reason)), count)
                for reason, count in sorted(plan.skipped_counts().items())
            ],
            message_count=sum(1 for m in plan.messages if m.task_kind is None),
            task_count=sum(1 for m in plan.messages if m.task_kind is not None),
        )
    return render(request, "web/collections/dunning.html", context, status=status)


def paginate_skipped(request: HttpRequest, plan: DunningPlan) -> Any:
    return Paginator(plan.skipped, PAGE_SIZE).get_page(request.GET.get("spage"))


@login_required
@require_GET
def dunning(request: HttpRequest) -> HttpResponse:
    """The preview for a date (today unless asked), with the run button under it."""
    form, as_of = bounded_day(request.GET.get("as_of"), timezone.localdate())
    return _preview_page(request, as_of, form, status=200 if as_of is not None else 400)


@login_required
@require_POST
def dunning_run(request: HttpRequest) -> HttpResponse:
    """Run the reminders of a date (confirmation ticked): then the run's page."""
    actor = require_reader(request, Action.RUN_DUNNING)
    run_form = DunningRunForm(request.POST)
    if not run_form.is_valid():
        day = run_form.cleaned_data.get("run_date") or timezone.localdate()
        form, as_of = bounded_day(day.isoformat(), day)
        return _preview_page(request, as_of, form, run_form, status=400)
    run_date = run_form.cleaned_data["run_date"]
    try:
        run = run_dunning(actor=actor, run_date=run_date)
    except REFUSALS as exc:
        run_form.add_error(None, refusal_text(exc))
        form, as_of = bounded_day(run_date.isoformat(), run_date)
        return _preview_page(request, as_of, form, run_form, status=refusal_status(exc))
    messages.success(
        request,
        _("Reminders of %(date)s: %(messages)d message(s) and %(tasks)d task(s).")
        % {"date": f"{run_date:%d/%m/%Y}", "messages": run.messages, "tasks": run.tasks},
    )
    return redirect("web:dunning_run_detail", pk=run.pk)


# ---------------------------------------------------------------- history


@login_required
@require_GET
def dunning_runs(request: HttpRequest) -> HttpResponse:
    actor = require_reader(request, Action.RUN_DUNNING)
    runs = DunningRun.objects.select_related("started_by").order_by("-started_at", "-pk")
    to_print = DunningMessage.objects.filter(status=MessageStatus.TO_PRINT).count()
    failed = DunningMessage.objects.filter(status=MessageStatus.FAILED).count()
    page = paginate(request, runs)
    for run in page.object_list:
        run.skipped_rows = _skipped_rows(run)
    context = {
        "page": page,
        "to_print": to_print,
        "failed": failed,
        **permission_flags(actor),
    }
    return render(request, "web/collections/dunning_runs.html", context)


def _skipped_rows(run: DunningRun) -> list[tuple[str, int]]:
    skipped = run.skipped if isinstance(run.skipped, dict) else {}
    return [
        (str(SKIP_LABELS.get(reason, reason)), int(count))
        for reason, count in sorted(skipped.items())
        if isinstance(count, int)
    ]


@login_required
@require_GET
def dunning_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: its counts, skips and messages (status, recipients, attachments)."""
    actor = require_reader(request, Action.RUN_DUNNING)
    run = get_object_or_404(DunningRun.objects.select_related("started_by"), pk=pk)
    rows = (
        DunningMessage.objects.filter(run=run)
        .select_related("customer", "step")
        .prefetch_related("items__invoice")
        .order_by("customer__name", "pk")
    )
    status = str(request.GET.get("status", ""))
    if status in MessageStatus.values:
        rows = rows.filter(status=status)
    counts = dict(
        DunningMessage.objects.filter(run=run)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    context = {
        "run": run,
        "page": paginate(request, rows),
        "skipped": _skipped_rows(run),
        "status_counts": [
            (value, label, counts.get(value, 0)) for value, label in MessageStatus.choices
        ],
        "status": status if status in MessageStatus.values else "",
        **permission_flags(actor),
    }
    return render(request, "web/collections/dunning_run_detail.html", context)


@login_required
@require_GET
def dunning_message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One reminder as the customer received it: the text, the invoices, the attachments."""
    actor = require_reader(request, Action.RUN_DUNNING)
    message = get_object_or_404(
        DunningMessage.objects.select_related("customer", "step", "run"), pk=pk
    )
    context = {
        "message": message,
        "items": list(message.items.select_related("invoice", "step").order_by("pk")),
        "attachments": attachments_of(message),
        "tasks": list(message.tasks.order_by("pk")),
        "events": list(events_for(message)[:100]),
        **permission_flags(actor),
    }
    return render(request, "web/collections/dunning_message.html", context)


def attachments_of(message: DunningMessage) -> list[tuple[str, str]]:
    """(file name, download URL) of what the reminder carries (or will carry)."""
    out: list[tuple[str, str]] = []
    if message.channel == DunningChannel.LETTER or (
        message.channel == DunningChannel.EMAIL and message.step.is_formal_notice
    ):
        out.append((letter_filename(message), reverse("web:dunning_letter_pdf", args=[message.pk])))
    if message.channel == DunningChannel.EMAIL:
        url = reverse("web:account_statement_pdf", args=[message.customer_id])
        out.append(
            (
                statement_filename(message.customer, message.run.run_date),
                f"{url}?as_of={message.run.run_date:%Y-%m-%d}",
            )
        )
    return out


@login_required
@require_GET
def dunning_letter_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    require_reader(request, Action.RUN_DUNNING)
    message = get_object_or_404(
        DunningMessage.objects.select_related("customer", "step", "run"), pk=pk
    )
    if message.channel not in (DunningChannel.LETTER, DunningChannel.EMAIL):
        raise Http404("no letter")
    return pdf_response(reminder_letter_pdf(message), letter_filename(message))


@login_required
@require_POST
def dunning_message_printed(request: HttpRequest, pk: int) -> HttpResponse:
    """A person printed and posted a reminder letter."""
    message = get_object_or_404(DunningMessage, pk=pk)
    actor = require_reader(request, Action.RUN_DUNNING)
    try:
        mark_reminder_printed(actor=actor, message=message)
    except REFUSALS as exc:
        refuse(request, exc)
    else:
        messages.success(request, _("Reminder letter marked printed and posted."))
    return redirect_back(request, reverse("web:dunning_run_detail", args=[message.run_id]))


# ---------------------------------------------------------------- scenarios and rates


def _scenarios_page(
    request: HttpRequest, actor: User, rate_form: InterestRateForm, status: int = 200
) -> HttpResponse:
    scenarios = DunningScenario.objects.prefetch_related("steps").order_by("-is_default", "name")
    context = {
        "page": paginate(request, scenarios),
        "rates": list(LateInterestRate.objects.order_by("-valid_from")[:40]),
        "rate_form": rate_form,
        "scenario_form": ScenarioForm(),
        **permission_flags(actor),
    }
    return render(request, "web/collections/dunning_scenarios.html", context, status=status)


@login_required
@require_GET
def dunning_scenarios(request: HttpRequest) -> HttpResponse:
    actor = require_reader(request, Action.MANAGE_DUNNING)
    return _scenarios_page(request, actor, InterestRateForm())


@login_required
@require_POST
def interest_rate_save(request: HttpRequest) -> HttpResponse:
    """Enter the ECB rate of a half-year (Comptabilité, Administrateur)."""
    actor = require_reader(request, Action.MANAGE_DUNNING)
    form = InterestRateForm(request.POST)
    if not form.is_valid():
        return _scenarios_page(request, actor, form, 400)
    data = form.cleaned_data
    try:
        row = save_interest_rate(
            actor=actor,
            valid_from=data["valid_from"],
            ecb_rate=data["ecb_rate"],
            margin_points=data["margin_points"],
        )
    except ValidationFailed as exc:
        put_errors(form, exc)
        return _scenarios_page(request, actor, form, 400)
    except REFUSALS as exc:
        return _scenarios_page(request, actor, form, refusal_status(exc))
    messages.success(
        request,
        _("Rate of the half-year starting %(date)s saved: legal rate %(rate)s %%.")
        % {"date": f"{row.valid_from:%d/%m/%Y}", "rate": row.legal_rate},
    )
    return redirect(reverse("web:dunning_scenarios") + "#interest-rates")


def _step_initial(step: DunningStep) -> dict[str, Any]:
    return {
        name: getattr(step, name)
        for name in ("name", "offset_days", "channel", "is_formal_notice", "subject", "body")
    }


def _step_page(
    request: HttpRequest,
    form: StepForm,
    scenario: DunningScenario,
    step: DunningStep | None,
    status: int = 200,
) -> HttpResponse:
    actor = require_reader(request, Action.MANAGE_DUNNING)
    context = {
        "form": form,
        "scenario": scenario,
        "step": step,
        "merge_fields": [(name, str(label)) for name, label in MERGE_FIELDS.items()],
        "events": list(events_for(step)[:100]) if step is not None else [],
        **permission_flags(actor),
    }
    return render(request, "web/collections/dunning_step.html", context, status=status)


def _save(
    request: HttpRequest, scenario: DunningScenario, step: DunningStep | None
) -> HttpResponse:
    """Save the posted step through `save_step`; its refusals go next to their field."""
    actor = require_reader(request, Action.MANAGE_DUNNING)
    form = StepForm(request.POST)
    if not form.is_valid():
        return _step_page(request, form, scenario, step, 400)
    target = step if step is not None else DunningStep(scenario=scenario)
    try:
        saved = save_step(actor=actor, step=target, **form.cleaned_data)
    except ValidationFailed as exc:
        put_errors(form, exc)
        return _step_page(request, form, scenario, step, 400)
    except REFUSALS as exc:
        form.add_error(None, refusal_text(exc))
        return _step_page(request, form, scenario, step, refusal_status(exc))
    messages.success(request, _("Step “%(name)s” saved.") % {"name": saved.name})
    return redirect("web:dunning_scenarios")


@login_required
@require_http_methods(["GET", "POST"])
def dunning_step_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A step's offset, channel and texts; a text that does not render is refused."""
    step = get_object_or_404(DunningStep.objects.select_related("scenario"), pk=pk)
    require_reader(request, Action.MANAGE_DUNNING)
    if request.method == "POST":
        return _save(request, step.scenario, step)
    # Readers see the texts (read-only); saving is Comptabilité's or an administrator's.
    return _step_page(request, StepForm(initial=_step_initial(step)), step.scenario, step)


@login_required
@require_http_methods(["GET", "POST"])
def dunning_step_create(request: HttpRequest, pk: int) -> HttpResponse:
    scenario = get_object_or_404(DunningScenario, pk=pk)
    actor = require_reader(request, Action.MANAGE_DUNNING)
    if request.method == "POST":
        return _save(request, scenario, None)
    require(actor, Action.MANAGE_DUNNING)
    initial = {"channel": DunningChannel.EMAIL, "offset_days": 0}
    return _step_page(request, StepForm(initial=initial), scenario, None)


@login_required
@require_POST
def scenario_create(request: HttpRequest) -> HttpResponse:
    """A new scenario for a segment, starting from the default scenario's steps."""
    actor = require_reader(request, Action.MANAGE_DUNNING)
    form = ScenarioForm(request.POST)
    if not form.is_valid():
        for line in form_errors_text(form):
            messages.error(request, line)
        return redirect(reverse("web:dunning_scenarios"))
    try:
        scenario = create_scenario(
            actor=actor,
            name=form.cleaned_data["name"],
            segment=form.cleaned_data["segment"],
            copy_from=DunningScenario.objects.filter(is_default=True).first(),
        )
    except REFUSALS as exc:
        refuse(request, exc)
        return redirect(reverse("web:dunning_scenarios"))
    messages.success(request, _("Scenario “%(name)s” created.") % {"name": scenario.name})
    return redirect(reverse("web:dunning_scenarios") + f"#scenario-{scenario.pk}")


@login_required
@require_POST
def dunning_step_delete(request: HttpRequest, pk: int) -> HttpResponse:
    step = get_object_or_404(DunningStep, pk=pk)
    actor = require_reader(request, Action.MANAGE_DUNNING)
    try:
        delete_step(actor=actor, step=step)
    except REFUSALS as exc:
        refuse(request, exc)
    else:
        messages.success(request, _("Step removed."))
    return redirect(reverse("web:dunning_scenarios") + f"#scenario-{step.scenario_id}")
