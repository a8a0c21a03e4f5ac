import pytest

from levier.accounts.models import User
from levier.audit.choices import Channel, Verb
from levier.audit.context import channel
from levier.audit.models import AppendOnlyError, AuditEvent
from levier.audit.services import record_event

pytestmark = pytest.mark.django_db


def test_audit_events_cannot_be_modified_or_deleted(adv: User) -> None:
    event = record_event(actor=adv, verb=Verb.UPDATE, instance=adv, changes={"x": [1, 2]})
    event.comment = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).comment == ""


def test_channel_comes_from_the_context_of_the_work(adv: User) -> None:
    with channel(Channel.CLI):
        cli_event = record_event(actor=adv, verb=Verb.CREATE, instance=adv)
    with channel(Channel.JOB):
        job_event = record_event(actor=None, verb=Verb.SEND, instance=adv)
    assert (cli_event.channel, job_event.channel, job_event.actor_label) == ("cli", "job", "system")


def test_decimal_values_are_stored_as_exact_strings(adv: User) -> None:
    from decimal import Decimal

    event = record_event(
        actor=adv,
        verb=Verb.UPDATE,
        instance=adv,
        changes={"amount": [Decimal("0.10"), Decimal("1234.56")]},
    )
    event.refresh_from_db()
    assert event.changes == {"amount": ["0.10", "1234.56"]}
