"""Just enough HTML for smoke tests: CSS selectors for captures, and forms to submit.

A small selector engine over the standard library's parser covers what login pages need: type, ``#id``,
``.class``, ``[attr]``, ``[attr=value]`` (also ``^=``, ``$=``, ``*=``) and the descendant combinator.
Real login pages are the reason: Django's ``csrfmiddlewaretoken``, Rails' ``authenticity_token`` and its
``<meta name="csrf-token">``, Flask-WTF's ``csrf_token``, Laravel's ``_token`` are all one selector away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

MAX_ELEMENTS = 50_000
"""Elements read from one page; the rest is not parsed. A login page has hundreds; a hostile 4 MiB page of
``<b>`` has 1.4 million, which took 2.3 GB and 40 s as a tree."""
MAX_DEPTH = 256
"""Nesting kept; deeper elements become children of the element at this depth (browsers cap it too)."""
MAX_TAG_CHARS = 65_536
"""One tag's length: the parser turns a whole tag into its attribute list before lr-ci sees any of it."""
_LONG_TAG = re.compile(rf"<[^<>]{{{MAX_TAG_CHARS}}}")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_COMPOUND = re.compile(
    r"(?P<tag>[a-zA-Z][\w-]*|\*)|#(?P<id>[\w-]+)|\.(?P<cls>[\w-]+)"
    r"|\[\s*(?P<attr>[\w:-]+)\s*(?:(?P<op>[\^$*]?=)\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\]\s]+)\s*)?\]"
)


@dataclass(slots=True, eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    depth: int = 0
    cut: str = ""
    """On the document: why the rest of the page was not read ("" when it all was)."""

    @property
    def text(self) -> str:
        """This element's text and its descendants', in document order (iterative: no depth limit)."""
        parts: list[str] = []
        stack: list[Element | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            stack.extend(reversed([*item.text_parts, *item.children]))
        return "".join(parts).strip()

    def ancestors(self) -> list[Element]:
        found, node = [], self.parent
        while node is not None:
            found.append(node)
            node = node.parent
        return found

    def walk(self) -> list[Element]:
        """This element and its descendants in document order (iterative: no depth limit)."""
        out: list[Element] = []
        stack = [self]
        while stack:
            element = stack.pop()
            out.append(element)
            stack.extend(reversed(element.children))
        return out


class _Full(Exception):
    """The page has more elements than lr-ci reads."""


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root
        self.count = 0

    def _add(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        if self.count >= MAX_ELEMENTS:
            raise _Full()
        self.count += 1
        parent = self.current
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=parent, depth=parent.depth + 1)
        parent.children.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._add(tag, attrs)
        if tag not in _VOID and element.depth < MAX_DEPTH:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text_parts.append(data)


def parse(html: str) -> Element:
    """The page as a tree, bounded: :data:`MAX_ELEMENTS` elements, :data:`MAX_DEPTH` levels, tags of
    :data:`MAX_TAG_CHARS`. What was not read is named in the document's ``cut``."""
    builder = _TreeBuilder()
    long_tag = _LONG_TAG.search(html)
    if long_tag is not None:
        html = html[: long_tag.start()]
        builder.root.cut = f"a tag longer than {MAX_TAG_CHARS} characters; the page was read up to it"
    try:
        builder.feed(html)
        builder.close()
    except _Full:
        builder.root.cut = f"more than {MAX_ELEMENTS} elements; the first {MAX_ELEMENTS} were read"
    return builder.root


@dataclass(frozen=True)
class _Simple:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str | None, str | None], ...]

    def matches(self, element: Element) -> bool:
        if self.tag not in (None, "*") and element.tag != self.tag.lower():
            return False
        if any(element.attrs.get("id") != i for i in self.ids):
            return False
        classes = element.attrs.get("class", "").split()
        if any(c not in classes for c in self.classes):
            return False
        for name, op, value in self.attrs:
            if name not in element.attrs:
                return False
            actual = element.attrs[name]
            if op == "=" and actual != value:
                return False
            if op == "^=" and not actual.startswith(value or ""):
                return False
            if op == "$=" and not actual.endswith(value or ""):
                return False
            if op == "*=" and (value or "") not in actual:
                return False
        return True


class SelectorError(ValueError):
    pass


def _compile(selector: str) -> list[_Simple]:
    parts = []
    for compound in selector.split():
        tag, ids, classes, attrs = None, [], [], []
        pos = 0
        while pos < len(compound):
            match = _COMPOUND.match(compound, pos)
            if match is None or match.end() == pos:
                raise SelectorError(f"unsupported CSS selector {selector!r} (near {compound[pos:]!r})")
            if match.group("tag"):
                tag = match.group("tag")
            elif match.group("id"):
                ids.append(match.group("id"))
            elif match.group("cls"):
                classes.append(match.group("cls"))
            elif match.group("attr"):
                value = match.group("value")
                if value and value[0] in "\"'":
                    value = value[1:-1]
                attrs.append((match.group("attr"), match.group("op"), value))
            pos = match.end()
        parts.append(_Simple(tag, tuple(ids), tuple(classes), tuple(attrs)))
    if not parts:
        raise SelectorError("empty CSS selector")
    return parts


def select(root: Element, selector: str) -> list[Element]:
    """Elements matching ``selector`` (compound selectors joined by descendant combinators), in order.

    One walk down the tree, each element tested once per compound at most: an element's state is how
    many of the ancestor compounds its ancestors matched, taken greedily from the outermost (which finds
    a match whenever there is one). Matching each element's ancestor chain anew cost elements x depth.
    """
    *ancestors, last = _compile(selector)
    found = []
    stack = [(child, 0) for child in reversed(root.children)]
    while stack:
        element, matched = stack.pop()
        if matched == len(ancestors) and last.matches(element):
            found.append(element)
        if matched < len(ancestors) and ancestors[matched].matches(element):
            matched += 1
        stack.extend((child, matched) for child in reversed(element.children))
    return found


@dataclass(frozen=True)
class Form:
    action: str
    method: str
    fields: dict[str, str]


def find_form(root: Element, page_url: str, selector: str | None = None) -> Form | None:
    """The form to submit: ``selector``'s, else the first with a password field, else the first form.

    Its fields are every named input, select and textarea with its current value, hidden CSRF inputs
    included, so the framework's own token goes back as the framework expects.
    """
    forms = select(root, selector) if selector else select(root, "form")
    if not selector:
        # Forms holding a password field, found from the fields up (at most MAX_DEPTH ancestors each):
        # asking every form for its fields costs forms x elements on nested forms.
        holding = {
            id(ancestor)
            for field in select(root, "input[type=password]")
            for ancestor in field.ancestors()
            if ancestor.tag == "form"
        }
        forms = [form for form in forms if id(form) in holding] or forms
    if not forms:
        return None
    form = forms[0]
    fields: dict[str, str] = {}
    for element in form.walk()[1:]:
        name = element.attrs.get("name")
        if not name:
            continue
        kind = element.attrs.get("type", "text").lower()
        if element.tag == "input" and kind in ("submit", "button", "image", "reset", "file"):
            continue
        if element.tag == "input" and kind in ("checkbox", "radio") and "checked" not in element.attrs:
            continue
        if element.tag in ("input", "button"):
            fields.setdefault(name, element.attrs.get("value", "on" if kind in ("checkbox", "radio") else ""))
        elif element.tag == "textarea":
            fields.setdefault(name, element.text)
        elif element.tag == "select":
            options = select(element, "option")
            chosen = next((o for o in options if "selected" in o.attrs), options[0] if options else None)
            fields.setdefault(name, chosen.attrs.get("value", chosen.text) if chosen else "")
    action = urljoin(page_url, form.attrs.get("action") or page_url)
    return Form(action=action, method=form.attrs.get("method", "get").upper(), fields=fields)
