"""The interface speaks French first: every string the code or a template marks for
translation has a French translation in the catalogue.

`makemessages` (xgettext) builds the catalogue, and does not read inside an f-string: a
`gettext` call there is left out and shows in English. These tests read the code with Babel
(no gettext binaries needed) and fail naming the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[2]
CATALOGUE = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "django.po"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
}
TEMPLATE_TRANSLATE = re.compile(r"""\{%\s*(?:trans|translate)\s+(["'])(.+?)\1""")


def _translated() -> dict[str, str]:
    with CATALOGUE.open("rb") as po:
        catalogue: Catalog = read_po(po)
    return {
        message.id if isinstance(message.id, str) else message.id[0]: (
            message.string if isinstance(message.string, str) else message.string[0]
        )
        for message in catalogue
        if message.id and not message.fuzzy
    }


def _source_files(suffix: str) -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob(f"*{suffix}")) if "tests" not in p.parts]


def test_every_string_the_code_translates_has_a_french_translation() -> None:
    translated = _translated()
    missing = [
        f"{filename}:{line}: {message!r}"
        for filename, line, message, _comments, _context in extract_from_dir(
            str(PACKAGE),
            method_map=[("**/tests/**", "ignore"), ("**.py", "python")],
            keywords=KEYWORDS,
        )
        for text in [message if isinstance(message, str) else message[0]]
        if text and not translated.get(text)
    ]
    assert missing == []


def _calls_in_f_strings(source: str) -> list[int]:
    """The lines of the gettext calls inside an f-string's replacement fields."""
    return sorted(
        call.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.JoinedStr)
        for field in node.values
        if isinstance(field, ast.FormattedValue)
        for call in ast.walk(field.value)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in KEYWORDS
    )


def test_no_translated_string_hides_inside_an_f_string() -> None:
    hidden = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in _source_files(".py")
        for line in _calls_in_f_strings(path.read_text())
    ]
    assert hidden == []


def test_every_string_a_template_translates_has_a_french_translation() -> None:
    translated = _translated()
    missing = []
    for path in _source_files(".html") + _source_files(".txt"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in TEMPLATE_TRANSLATE.finditer(line):
                # makemessages writes a template's % as %% (python-format).
                text = match.group(2)
                if not (translated.get(text) or translated.get(text.replace("%", "%%"))):
                    missing.append(f"{path.relative_to(PACKAGE)}:{number}: {text!r}")
    assert missing == []


def test_the_check_finds_a_call_hidden_in_an_f_string() -> None:
    source = "a = f\"{where}: {escape(_('not a milestone'))}\"\nb = f'{where}: {problem}'\n"
    assert _calls_in_f_strings(source) == [1]
