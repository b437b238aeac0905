"""HTML pages as a browser reads them, and CSS selectors on them: captures, forms, failure text.

Pages are parsed by Lexbor (through selectolax): the HTML standard's tree builder, so a page is the tree
a browser builds (implied and misnested tags, nested forms dropped, ``<textarea>``'s leading newline),
and its CSS selector engine (``:not()``, ``>``, ``+``, ``~``, ``:nth-of-type()``, attribute operators, ...),
so a selector a person tried in the browser's console picks the same elements here.

Imported only by the smoke check, lazily: the staged secrets hook never pays for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

MAX_ELEMENTS = 50_000
"""Tags (start and end) read from one page; the rest is not parsed. A login page has hundreds. The tree
builder's scope searches make some tag sequences cost tags x depth: at this bound the worst measured
(25,000 ``<div>`` then 25,000 ``</p>``) parses in about 2 s."""
MAX_TAG_CHARS = 65_536
"""One tag's length: a tag of 4 MiB of attributes is read up to it."""
MAX_SELECTOR_CHARS = 4096
"""A CSS selector's length in lr-ci.toml: longer is not a selector a person wrote."""
_LONG_TAG = re.compile(rf"<[^<>]{{{MAX_TAG_CHARS}}}")
_TAG = re.compile(r"</?[A-Za-z]")


class SelectorError(ValueError):
    """A CSS selector the selector engine cannot read."""


@dataclass
class Page:
    """A parsed page and why part of it was not read ("" when it all was)."""

    tree: LexborHTMLParser
    cut: str = ""


def parse(html: str) -> Page:
    """The page as a browser's tree, bounded: :data:`MAX_ELEMENTS` tags, tags of :data:`MAX_TAG_CHARS`.

    What was not read is named in the page's ``cut``. The text is cut before the parser sees it, so the
    parser's time and memory follow the bound whatever the page holds.
    """
    from selectolax.lexbor import LexborHTMLParser

    cut = ""
    long_tag = _LONG_TAG.search(html)
    if long_tag is not None:
        html = html[: long_tag.start()]
        cut = f"a tag longer than {MAX_TAG_CHARS} characters; the page was read up to it"
    for count, tag in enumerate(_TAG.finditer(html), start=1):
        if count > MAX_ELEMENTS:
            html = html[: tag.start()]
            cut = f"more than {MAX_ELEMENTS} tags; the first {MAX_ELEMENTS} were read"
            break
    return Page(LexborHTMLParser(html), cut)


def check_selector(selector: str) -> str:
    """``selector`` when the engine can read it; SelectorError saying why not (checked at config load)."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    if not selector.strip():
        raise SelectorError("empty CSS selector")
    if len(selector) > MAX_SELECTOR_CHARS:
        raise SelectorError(f"CSS selector longer than {MAX_SELECTOR_CHARS} characters")
    try:
        LexborHTMLParser("").css(selector)
    except SelectolaxError:
        raise SelectorError(f"unsupported or invalid CSS selector {selector!r}") from None
    return selector


def select(page: Page, selector: str) -> list[LexborNode]:
    """Elements matching ``selector``, in document order."""
    from selectolax.lexbor import SelectolaxError

    try:
        return list(page.tree.css(selector))
    except SelectolaxError:
        raise SelectorError(f"unsupported or invalid CSS selector {selector!r}") from None


def attributes(node: LexborNode) -> dict[str, str]:
    """The element's attributes, a bare attribute (``selected``) as ""."""
    return {name: value or "" for name, value in node.attributes.items()}


def text(node: LexborNode) -> str:
    """The element's text and its descendants', as written, stripped at both ends."""
    return str(node.text(deep=True)).strip()


_WHITESPACE = re.compile(r"[ \t\n\f\r]+")
_HIDDEN_TAGS = ["head", "script", "style", "template", "noscript", "title"]
ERROR_SELECTOR = ".errorlist, .alert, .invalid-feedback, .error, [role=alert]"
"""Where frameworks put what went wrong with a form: Django's ``errorlist``, Bootstrap's ``alert`` and
``invalid-feedback``, Flask-WTF templates' ``error``, and ARIA's ``role="alert"``."""


MAX_ERROR_ELEMENTS = 50
"""Error elements read for a message: a page of 25,000 nested ``.error`` elements would otherwise read
each one's text (quadratic)."""
MAX_ERROR_CHARS = 2000


def collapse(value: str) -> str:
    """Runs of whitespace as one space, none at the ends (the standard's "strip and collapse")."""
    return _WHITESPACE.sub(" ", value).strip()


def readable_text(page: Page) -> tuple[list[str], str]:
    """(form errors, visible text) a person reading the page would look for, whitespace collapsed.

    Errors are the texts of :data:`ERROR_SELECTOR`'s elements, each once (nested matches are kept with
    their outermost). The visible text leaves out ``<head>``, scripts, styles and templates.
    """
    tree = page.tree
    errors: list[str] = []
    for node in tree.css(ERROR_SELECTOR)[:MAX_ERROR_ELEMENTS]:
        found = collapse(str(node.text(deep=True, separator=" ")))
        if found and not any(found in seen for seen in errors):
            errors.append(found)
        if sum(len(error) for error in errors) > MAX_ERROR_CHARS:
            break  # more than a message shows
    tree.strip_tags(_HIDDEN_TAGS)
    body = tree.body if tree.body is not None else tree.root
    visible = collapse(str(body.text(deep=True, separator=" "))) if body is not None else ""
    return errors, visible
