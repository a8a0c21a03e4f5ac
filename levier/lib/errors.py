"""Domain errors every app raises; the web layer maps them to 4xx answers, never a 500."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. `errors` maps a field (or "__all__") to its messages."""

    http_status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, errors: dict[str, list[str]] | None = None, code: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Bad input: the message and `errors` name the field and the failed check."""

    @classmethod
    def on(cls, field: str, message: str, code: str = "") -> ValidationFailed:
        """The refusal of one field (`code` defaults to the field's name)."""
        return cls(message, errors={field: [message]}, code=code or field)


class StaleVersion(DomainError):
    """Someone else saved the document since it was loaded: reload, never overwrite."""

    http_status = 409
    code = "stale_version"


class NotAllowed(DomainError):
    """The document's state does not allow this operation now."""

    http_status = 409
    code = "not_allowed"
