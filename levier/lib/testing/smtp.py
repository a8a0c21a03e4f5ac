"""A real SMTP server for tests: emails go through Django's SMTP backend, not locmem.

Use it from a conftest.py with ``from levier.lib.testing.smtp import smtp_server  # noqa: F401``
and take ``smtp_server`` as a test argument: it starts an aiosmtpd server on 127.0.0.1 and a
free port, points Django's EMAIL_* settings at it for the test, and collects what it receives.
The server runs in its own thread, so a Celery worker thread or a live server can send to it.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def free_port() -> int:
    """A TCP port nothing listens on right now (also what a "mail server down" test uses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    """One SMTP transaction as the server saw it (the envelope can differ from the headers)."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    host: str
    port: int
    received: list[ReceivedMail] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def messages(self) -> list[EmailMessage]:
        """The received messages, parsed (an EmailMessage is an email.message.Message)."""
        with self._arrived:
            return [mail.message for mail in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until `count` messages arrived (for senders in another thread)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} email(s) within {timeout}s, got {len(self.received)}"
                    )
                self._arrived.wait(remaining)
            return [mail.message for mail in self.received]

    # aiosmtpd handler hook, called in the server's thread for each message.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._arrived:
            self.received.append(
                ReceivedMail(
                    mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos), message=parsed
                )
            )
            self._arrived.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A local SMTP server that Django sends to for the duration of the test."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    # aiosmtpd logs every SMTP command at INFO: noise in a failing test's output.
    smtp_log = logging.getLogger("mail.log")
    previous_level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        controller.stop()
        smtp_log.setLevel(previous_level)
