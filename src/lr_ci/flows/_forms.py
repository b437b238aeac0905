"""What a browser submits for a form: the HTML standard's form submission algorithm.

``find_submission`` picks the form and its submitter on a page and builds the entry list exactly as the
standard's "constructing the entry list" does (https://html.spec.whatwg.org/#constructing-the-form-data-set):
controls in tree order whose form owner is the form (descendants, and ``form="id"`` controls anywhere),
without disabled controls (also inside a disabled ``<fieldset>``, but its first ``<legend>``), unchecked
checkboxes and radios, buttons other than the submitter and selects' unselected options. A smoke test
that sends anything else can change data no person would: a ``<select multiple>`` with nothing selected
once sent its first option and granted a Django group a permission nobody chose.

``urlencoded``, ``multipart`` and ``text_plain`` turn the entries into the body a browser sends, in order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from lr_ci.flows import _html

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
TEXT_PLAIN = "text/plain"
_ENCTYPES = (URLENCODED, MULTIPART, TEXT_PLAIN)
_SUBMITTABLE = frozenset({"button", "input", "select", "textarea"})
_LISTED = frozenset({"button", "fieldset", "input", "object", "output", "select", "textarea"})
_TEXT_LIKE = frozenset({"text", "search", "tel", "password"})
_INPUT_TYPES = frozenset(
    "hidden text search tel url email password date month week time datetime-local number range color "
    "checkbox radio file submit image reset button".split()
)
_NOT_VISIBLE = frozenset({"hidden", "submit", "image", "reset", "button"})
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}\Z")
_SHORT_COLOR = re.compile(r"#[0-9a-fA-F]{3}\Z")
_DATE_LIKE = {
    "date": re.compile(r"(\d{4,})-(\d\d)-(\d\d)\Z"),
    "month": re.compile(r"(\d{4,})-(\d\d)\Z"),
    "week": re.compile(r"(\d{4,})-W(\d\d)\Z"),
    "time": re.compile(r"([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,3})?)?\Z"),
    "datetime-local": re.compile(
        r"(\d{4,})-(\d\d)-(\d\d)[T ]([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,3})?)?\Z"
    ),
}
_NEWLINES = re.compile(r"\r\n|\r|\n")


class FormError(ValueError):
    """The step cannot be done as configured on this page (no such form, no such submitter, ambiguous)."""


@dataclass(frozen=True)
class Entry:
    """One entry of the entry list; a file entry has a ``filename`` ("" when no file is chosen)."""

    name: str
    value: str
    filename: str | None = None


@dataclass(frozen=True)
class Submission:
    """What a browser sends when the form is submitted: where, how, and the entries in order."""

    action: str
    method: str
    enctype: str
    entries: list[Entry]
    form_label: str


def _attrs(node: LexborNode) -> dict[str, str]:
    return _html.attributes(node)


def _input_type(node: LexborNode) -> str:
    """An input's type state: a missing or unknown ``type`` is text."""
    kind = _attrs(node).get("type", "text").strip().lower()
    return kind if kind in _INPUT_TYPES else "text"


def _button_type(node: LexborNode) -> str:
    kind = _attrs(node).get("type", "submit").strip().lower()
    return kind if kind in ("submit", "reset", "button") else "submit"


def is_submit_button(node: LexborNode) -> bool:
    """``<button>`` of type submit (the default), ``<input type=submit>`` and ``<input type=image>``."""
    if node.tag == "button":
        return _button_type(node) == "submit"
    return node.tag == "input" and _input_type(node) in ("submit", "image")


def _is_button(node: LexborNode) -> bool:
    if node.tag == "button":
        return True
    return node.tag == "input" and _input_type(node) in ("submit", "image", "reset", "button")


def _element_children(node: LexborNode) -> list[LexborNode]:
    found = []
    child = node.child
    while child is not None:
        if not (child.tag or "-").startswith("-"):  # text and comment nodes
            found.append(child)
        child = child.next
    return found


@dataclass(frozen=True)
class _Control:
    """A listed control with what its ancestors decide about it (found in one walk of the tree)."""

    node: LexborNode
    form: int | None
    """The mem_id of its form owner (None: it has none)."""
    disabled: bool
    """Disabled itself, or inside a disabled ``<fieldset>`` but not inside that fieldset's first legend."""
    direction: str


class _Document:
    """A parsed page's forms and listed controls, each with its form owner.

    One iterative walk down the tree carries the nearest form, disabled fieldsets and ``dir``: asking
    each control for its ancestors costs controls x depth on a deep page.
    """

    def __init__(self, page: _html.Page) -> None:
        self.page = page
        self.forms: list[LexborNode] = []
        self.base: LexborNode | None = None
        self.controls: list[_Control] = []
        self._by_form: dict[int | None, list[_Control]] | None = None
        ids: dict[str, LexborNode] = {}
        named: list[tuple[int, str]] = []
        root = page.tree.root
        # (node, nearest form, inside a disabled fieldset, direction)
        stack: list[tuple[LexborNode, int | None, bool, str]] = (
            [(root, None, False, "ltr")] if root is not None else []
        )
        while stack:
            node, form, disabled, direction = stack.pop()
            attrs = node.attributes
            element_id = attrs.get("id")
            if element_id and element_id not in ids:
                ids[element_id] = node
            declared = (attrs.get("dir") or "").lower()
            direction = declared if declared in ("ltr", "rtl") else direction
            tag = node.tag
            if tag == "form":
                self.forms.append(node)
            elif tag == "base" and self.base is None and "href" in attrs:
                self.base = node
            elif tag in _LISTED:
                if "form" in attrs:
                    named.append((len(self.controls), attrs.get("form") or ""))
                self.controls.append(_Control(node, form, disabled or "disabled" in attrs, direction))
            children = _element_children(node)
            owner = node.mem_id if tag == "form" else form
            legend = None
            if tag == "fieldset" and "disabled" in attrs:
                # Its first legend keeps the fieldset's own state; everything else inside is disabled.
                legend = next((c for c in children if c.tag == "legend"), None)
            inside_disabled = disabled or (tag == "fieldset" and "disabled" in attrs)
            for child in reversed(children):
                is_legend = legend is not None and child.mem_id == legend.mem_id
                stack.append((child, owner, disabled if is_legend else inside_disabled, direction))
        for index, form_id in named:  # form="id": that form wherever it is, or none (not the ancestor)
            target = ids.get(form_id)
            owner = target.mem_id if target is not None and target.tag == "form" else None
            self.controls[index] = replace(self.controls[index], form=owner)

    def controls_of(self, form: LexborNode) -> list[_Control]:
        if self._by_form is None:
            self._by_form = {}
            for control in self.controls:
                self._by_form.setdefault(control.form, []).append(control)
        return self._by_form.get(form.mem_id, [])

    def index(self, form: LexborNode) -> int:
        return next(i for i, f in enumerate(self.forms) if f.mem_id == form.mem_id)

    def base_url(self, page_url: str) -> str:
        if self.base is None:
            return page_url
        return urljoin(page_url, (self.base.attributes.get("href") or "").strip())


def _label(form: LexborNode, index: int) -> str:
    """``form 2 id='group_form' action='/save/'``: how a message names a form (values the server chose,
    cut at 80 characters)."""
    attrs = _attrs(form)
    parts = [f"form {index + 1}"]
    if attrs.get("id"):
        parts.append(f"id={_short(attrs['id'])!r}")
    parts.append(f"action={_short(attrs.get('action', ''))!r}")
    return " ".join(parts)


def _short(value: str) -> str:
    return value if len(value) <= 80 else value[:80] + "…"


def _options(select: LexborNode) -> list[LexborNode]:
    """The select's list of options: its option children, and those of its optgroup children."""
    found = []
    for child in _element_children(select):
        if child.tag == "option":
            found.append(child)
        elif child.tag == "optgroup":
            found += [grandchild for grandchild in _element_children(child) if grandchild.tag == "option"]
    return found


def _option_disabled(option: LexborNode) -> bool:
    parent = option.parent
    return "disabled" in option.attributes or (
        parent is not None and parent.tag == "optgroup" and "disabled" in parent.attributes
    )


def _option_value(option: LexborNode) -> str:
    value = option.attributes.get("value")
    return value or "" if value is not None else _html.collapse(str(option.text(deep=True)))


def select_values(select: LexborNode) -> list[str]:
    """What a ``<select>`` contributes to the entry list: the values of its selected, enabled options.

    The one place the select rule lives. Selectedness as a browser sets it when the page loads: the
    options with ``selected``; a select that is not ``multiple`` keeps only the last of several, and one
    shown as a drop-down (no ``size`` above 1) with none selected selects its first enabled option.
    A ``<select multiple>`` with nothing selected sends nothing.
    """
    options = _options(select)
    chosen = [option for option in options if "selected" in option.attributes]
    multiple = "multiple" in select.attributes
    if not multiple:
        try:
            size = int(select.attributes.get("size") or "1")
        except ValueError:
            size = 1
        if len(chosen) > 1:
            chosen = chosen[-1:]
        if not chosen and size <= 1:
            first = next((option for option in options if not _option_disabled(option)), None)
            chosen = [first] if first is not None else []
    return [_option_value(option) for option in chosen if not _option_disabled(option)]


def _sanitized(kind: str, value: str, node: LexborNode) -> str:
    """An input's value after the standard's value sanitization for its type (what a browser submits)."""
    if kind in _TEXT_LIKE:
        return value.replace("\r", "").replace("\n", "")
    if kind in ("email", "url"):
        return value.replace("\r", "").replace("\n", "").strip(" \t\n\f\r")
    if kind == "number":
        return value if _NUMBER.match(value) else ""
    if kind == "color":
        if _SHORT_COLOR.match(value):  # Chromium reads CSS colors: #abc is #aabbcc
            return "#" + "".join(ch * 2 for ch in value[1:].lower())
        return value.lower() if _COLOR.match(value) else "#000000"
    if kind == "datetime-local":
        return _normalized_local_datetime(value) if _valid_date_like(kind, value) else ""
    if kind in _DATE_LIKE:
        return value if _valid_date_like(kind, value) else ""
    if kind == "range":
        return _range_value(value, node)
    return value


def _valid_date_like(kind: str, value: str) -> bool:
    """A date, month, week, time or local date-time value as the standard writes one (else it is empty)."""
    import datetime

    match = _DATE_LIKE[kind].match(value)
    if match is None:
        return False
    if kind in ("date", "datetime-local"):
        year, month, day = (int(part) for part in match.groups()[:3])
        try:
            datetime.date(year, month, day)
        except ValueError:
            return False
        return year >= 1
    if kind == "month":
        return int(match.group(1)) >= 1 and 1 <= int(match.group(2)) <= 12
    if kind == "week":
        year, week = int(match.group(1)), int(match.group(2))
        weeks = 53 if datetime.date(min(year, 9999), 12, 28).isocalendar()[1] == 53 else 52
        return year >= 1 and 1 <= week <= weeks
    return True


def _number(text: str | None, default: float) -> float:
    return float(text) if text is not None and _NUMBER.match(text) else default


def _range_value(value: str, node: LexborNode) -> str:
    """A range's value as the standard sanitizes it: clamped to [min, max], then on the step grid.

    The grid starts at ``min`` (else the ``value`` attribute, else 0) with ``step`` (default 1, ``any`` for
    none); a value between two steps goes to the nearest one, ties upwards, and a step past ``max`` goes
    to the last step below it (``min=0 max=10 step=3 value=5`` sends 6, as Chromium does).
    """
    import math

    attributes = node.attributes
    low = _number(attributes.get("min"), 0.0)
    high = max(_number(attributes.get("max"), 100.0), low)
    number = min(max(_number(value, low + (high - low) / 2), low), high)
    step_text = (attributes.get("step") or "").strip().lower()
    step = None if step_text == "any" else _number(step_text or None, 1.0)
    if step is not None and step > 0:
        base = _number(attributes.get("min"), _number(attributes.get("value"), 0.0))
        number = base + math.floor((number - base) / step + 0.5) * step
        if number > high:
            number = base + math.floor((high - base) / step) * step
        if number < low:
            number = base + math.ceil((low - base) / step) * step
    number = round(number, 10)  # the grid's float error, not a digit a browser would send
    return f"{number:g}" if number != int(number) else str(int(number))


_LOCAL_DATETIME_PARTS = re.compile(r"(.+-\d\d-\d\d)[T ](\d\d:\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?\Z")


def _normalized_local_datetime(value: str) -> str:
    """The standard's normalized local date-time: ``T`` between date and time, then the shortest time
    (seconds and fractions only when not zero): ``2026-12-01 09:30:00`` is sent as ``2026-12-01T09:30``."""
    match = _LOCAL_DATETIME_PARTS.match(value)
    if match is None:
        return value
    date, hours_minutes, seconds, fraction = match.groups()
    fraction = (fraction or "").rstrip("0")
    time = hours_minutes
    if fraction:
        time += f":{seconds}.{fraction}"
    elif seconds and seconds != "00":
        time += f":{seconds}"
    return f"{date}T{time}"


def _direction(field: LexborNode, inherited: str) -> str:
    """``ltr`` or ``rtl`` for ``dirname``: the control's own ``dir``, ``auto`` read from its value's first
    strong character, else what its ancestors say."""
    import unicodedata

    declared = (field.attributes.get("dir") or "").strip().lower()
    if declared != "auto":
        return inherited
    value = str(field.text(deep=True)) if field.tag == "textarea" else (field.attributes.get("value") or "")
    for character in value:
        kind = unicodedata.bidirectional(character)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return "ltr"


def _field_entries(field: LexborNode, kind: str, name: str, attrs: dict[str, str]) -> list[Entry]:
    """What one enabled, named, non-button control contributes (the standard's per-field steps)."""
    if field.tag == "select":
        return [Entry(name, value) for value in select_values(field)]
    if kind in ("checkbox", "radio"):
        return [Entry(name, attrs.get("value", "on"))]
    if kind == "file":
        return [Entry(name, "", filename="")]
    if kind == "submit" and "value" not in attrs:  # the label a browser shows is what it sends
        return [Entry(name, "Submit")]
    if kind == "hidden" and name.lower() == "_charset_":
        return [Entry(name, "UTF-8")]
    if field.tag == "textarea":
        return [Entry(name, str(field.text(deep=True)))]
    return [Entry(name, _sanitized(kind, attrs.get("value", ""), field))]


def entry_list(document: _Document, form: LexborNode, submitter: LexborNode | None) -> list[Entry]:
    """The standard's "constructing the entry list" for ``form`` submitted by ``submitter``."""
    entries: list[Entry] = []
    for control in document.controls_of(form):
        field = control.node
        # Controls inside a <datalist> are submitted: Chromium does (the standard leaves them out), and
        # lr-ci sends what the browser sends.
        if field.tag not in _SUBMITTABLE or control.disabled:
            continue
        is_submitter = submitter is not None and field.mem_id == submitter.mem_id
        if _is_button(field) and not is_submitter:
            continue
        attrs = _attrs(field)
        kind = _input_type(field) if field.tag == "input" else ""
        if kind in ("checkbox", "radio") and "checked" not in field.attributes:
            continue
        name = attrs.get("name", "")
        if kind == "image":
            prefix = f"{name}." if name else ""
            entries += [Entry(f"{prefix}x", "0"), Entry(f"{prefix}y", "0")]
            continue
        if not name:
            continue
        entries += _field_entries(field, kind, name, attrs)
        dirname = attrs.get("dirname", "")
        if dirname and (field.tag == "textarea" or kind in ("text", "search")):
            entries.append(Entry(dirname, _direction(field, control.direction)))
    return entries


def _holds(document: _Document, form: LexborNode, names: Mapping[str, str]) -> bool:
    controls = document.controls_of(form)
    held = {_attrs(c.node).get("name", "") for c in controls if c.node.tag in _SUBMITTABLE}
    return all(name in held for name in names)


def _has_password(document: _Document, form: LexborNode) -> bool:
    controls = document.controls_of(form)
    return any(c.node.tag == "input" and _input_type(c.node) == "password" for c in controls)


def _has_visible_control(document: _Document, form: LexborNode) -> bool:
    for control in document.controls_of(form):
        if control.node.tag in ("select", "textarea"):
            return True
        if control.node.tag == "input" and _input_type(control.node) not in _NOT_VISIBLE:
            return True
    return False


def choose_form(document: _Document, selector: str | None, filled: Mapping[str, str]) -> LexborNode:
    """The form to submit: ``selector``'s first form, else the default rule (see docs/smoke.md).

    The default: the forms holding every field named in ``fields`` (all forms when none does); the only
    one of them with a password field; else the only one with a control a person can see and fill (not
    hidden, not a button); else the only candidate. A page after a Django admin login starts with a
    logout form holding a hidden CSRF input and a button: it is never taken while another form has
    something to fill in.
    """
    forms = document.forms
    if selector:
        matched = {node.mem_id for node in _html.select(document.page, selector)}
        chosen = [form for form in forms if form.mem_id in matched]
        if not chosen:
            raise FormError(f"submit_form.selector {selector!r} matches no form on the page{_cut(document)}")
        return chosen[0]
    if not forms:
        raise FormError(f"no form on the page{_cut(document)}")
    # Fields no form has are added at the end of the one chosen: then every form is a candidate.
    holding = [form for form in forms if _holds(document, form, filled)] or forms
    for rule in (_has_password, _has_visible_control):
        matching = [form for form in holding if rule(document, form)]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            holding = matching
            break
    if len(holding) == 1:
        return holding[0]
    found = "; ".join(_label(form, document.index(form)) for form in holding[:8])
    more = f" and {len(holding) - 8} more" if len(holding) > 8 else ""
    raise FormError(
        f"submit_form: {len(holding)} forms could be the one to submit ({found}{more}); "
        "set submit_form.selector to choose one"
    )


def _cut(document: _Document) -> str:
    return f" (the page has {document.page.cut})" if document.page.cut else ""


def choose_submitter(document: _Document, form: LexborNode, selector: str | None) -> LexborNode | None:
    """``selector``'s submit button of the form, else its default button (the first submit button in tree
    order whose form owner is the form, as pressing Enter does); None when the form has none."""
    buttons = [c for c in document.controls_of(form) if is_submit_button(c.node)]
    if selector:
        matched = {node.mem_id for node in _html.select(document.page, selector)}
        chosen = next((button for button in buttons if button.node.mem_id in matched), None)
        if chosen is None:
            raise FormError(f"submit_form.submitter {selector!r} matches no submit button of the form")
        if chosen.disabled:
            raise FormError(f"submit_form.submitter {selector!r} is disabled: a browser would not submit")
        return chosen.node
    if buttons and buttons[0].disabled:
        raise FormError("the form's default (first) submit button is disabled: a browser would not submit")
    return buttons[0].node if buttons else None


def _override(submitter: LexborNode | None, form: LexborNode, name: str) -> str | None:
    """The submitter's ``form<name>`` attribute, else the form's ``<name>`` (None when neither is set)."""
    if submitter is not None and f"form{name}" in submitter.attributes:
        return _attrs(submitter).get(f"form{name}", "")
    return _attrs(form).get(name) if name in form.attributes else None


def find_submission(
    html: str, page_url: str, selector: str | None, submitter: str | None, filled: Mapping[str, str]
) -> Submission:
    """What a browser would send for the chosen form of ``html`` (served at ``page_url``).

    ``filled`` sets the value of the first entry with each name (appended at the end when the form has
    none), as a person typing into that field. FormError when the form or submitter cannot be chosen.
    """
    return submission(_html.parse(html), page_url, selector, submitter, filled)


def submission(
    page: _html.Page, page_url: str, selector: str | None, submitter: str | None, filled: Mapping[str, str]
) -> Submission:
    """:func:`find_submission` on a page already parsed."""
    document = _Document(page)
    form = choose_form(document, selector, filled)
    button = choose_submitter(document, form, submitter)
    method = (_override(button, form, "method") or "get").strip().lower()
    if method == "dialog":
        raise FormError("the form's method is dialog: it closes a dialog in the page and sends nothing")
    method = method if method in ("get", "post") else "get"
    enctype = (_override(button, form, "enctype") or URLENCODED).strip().lower()
    enctype = enctype if enctype in _ENCTYPES else URLENCODED
    action = (_override(button, form, "action") or "").strip()
    target = urljoin(document.base_url(page_url), action) if action else page_url
    entries = fill(entry_list(document, form, button), filled)
    label = _label(form, document.index(form))
    return Submission(target, method.upper(), enctype, entries, label)


def fill(entries: list[Entry], filled: Mapping[str, str]) -> list[Entry]:
    """``entries`` with the first entry of each name set to the filled value (appended when missing)."""
    result = list(entries)
    for name, value in filled.items():
        index = next((i for i, entry in enumerate(result) if entry.name == name), None)
        if index is None:
            result.append(Entry(name, value))
        else:
            result[index] = replace(result[index], value=value, filename=None)
    return result


def _crlf(value: str) -> str:
    return _NEWLINES.sub("\r\n", value)


_FORM_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-._")


def _form_encode(value: str) -> str:
    """The URL standard's application/x-www-form-urlencoded byte serializer (space as ``+``)."""
    out = []
    for byte in value.encode("utf-8", "surrogatepass"):
        if byte in _FORM_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def urlencoded(entries: list[Entry]) -> str:
    """The entries as a browser serializes them for urlencoded bodies and GET queries (files: filename)."""
    pairs = []
    for entry in entries:
        value = entry.filename if entry.filename is not None else entry.value
        pairs.append(f"{_form_encode(_crlf(entry.name))}={_form_encode(_crlf(value))}")
    return "&".join(pairs)


def text_plain(entries: list[Entry]) -> bytes:
    """``text/plain``: ``name=value`` lines, CRLF-terminated."""
    lines = []
    for entry in entries:
        value = entry.filename if entry.filename is not None else entry.value
        lines.append(f"{_crlf(entry.name)}={_crlf(value)}\r\n")
    return "".join(lines).encode("utf-8", "surrogatepass")


def _escape_name(value: str) -> str:
    return value.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


def multipart(entries: list[Entry], files: Mapping[str, bytes] | None = None) -> tuple[bytes, str]:
    """(body, content type) of ``multipart/form-data`` as Chromium sends it, entries in order.

    A file entry with no file chosen is a part with ``filename=""`` and ``application/octet-stream``;
    ``files`` gives the content of file entries by name (the step's uploads).
    """
    boundary = "----lrciFormBoundary" + os.urandom(8).hex()
    chunks: list[bytes] = []
    for entry in entries:
        name = _escape_name(_crlf(entry.name))
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if entry.filename is not None:
            head += f'; filename="{_escape_name(entry.filename)}"\r\nContent-Type: application/octet-stream'
            content = (files or {}).get(entry.name, b"") if entry.filename else b""
        else:
            content = _crlf(entry.value).encode("utf-8", "surrogatepass")
        chunks += [head.encode("utf-8", "surrogatepass"), b"\r\n\r\n", content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"{MULTIPART}; boundary={boundary}"


def get_url(action: str, entries: list[Entry]) -> str:
    """``action`` with its query replaced by the entries, as a GET form submits (the fragment kept)."""
    parts = urlsplit(action)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencoded(entries), parts.fragment))
