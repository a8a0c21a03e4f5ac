"""Numbering series in the Django admin: the pattern is set before the first number.

Once a series has given a number, its pattern, padding and yearly reset are read-only:
changing them would break the continuous, chronological sequence the law requires
(CGI ann. II art. 242 nonies A, 7°). A new pattern means a new series.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext as _

from levier.billing.models import NumberingSeries, SeriesCounter


class SeriesForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NumberingSeries
        fields = ["code", "kind", "pattern", "padding", "yearly_reset", "is_default"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pattern = data.get("pattern", "")
        if "{seq}" not in pattern:
            self.add_error("pattern", _("The pattern must contain {seq} (the sequence number)."))
        if data.get("yearly_reset") and "{year}" not in pattern:
            self.add_error(
                "pattern",
                _(
                    "A series that restarts every year must contain {year}, otherwise two "
                    "invoices would carry the same number."
                ),
            )
        try:
            pattern.format(year=2026, seq="000001")
        except (KeyError, IndexError, ValueError):
            self.add_error("pattern", _("Only {year} and {seq} may appear in the pattern."))
        return data


@admin.register(NumberingSeries)
class NumberingSeriesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = SeriesForm
    list_display = ("code", "kind", "pattern", "padding", "yearly_reset", "is_default")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        used = obj is not None and SeriesCounter.objects.filter(series=obj, last_value__gt=0)
        return ("code", "kind", "pattern", "padding", "yearly_reset") if used else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
