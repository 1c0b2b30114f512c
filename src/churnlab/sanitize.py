"""Defence in depth for HTML reports: no executable content beyond the report's own, and a CSP that says so.

Whatever a notebook printed (a Markdown finding with a customer's segment name, an HTML table, a
widget), :func:`sanitize_html` rewrites the page from its parsed tokens so that the browser can only
run the scripts on an allow-list: every other ``<script>``, every ``on*`` event attribute, every
``javascript:``/``vbscript:``/``data:text/html`` URL, ``<iframe>``/``<object>``/``<embed>`` (and their
relatives), ``<base>``, ``<meta http-equiv>`` (refresh, a second policy) and ``<link>`` are removed.
:func:`content_security_policy` builds the policy the page then carries as a ``<meta>`` tag: no
remote script and no inline script except the allowed ones, listed by their sha256 hash (W3C CSP
Level 3, "hash-source"); images only inline (``data:``) or from the report's own folder; no remote
fonts, styles, frames, forms or connections.

The rewriter emits every text node escaped and every attribute quoted and escaped, so what the
browser parses is what was checked. The only raw text it passes through is CSS in ``<style>``
(dropped when it contains ``<``, which CSS never needs but markup smuggled into an SVG ``<style>``
does) and the allowed scripts themselves.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

__all__ = ["REPORT_SCRIPTS", "content_security_policy", "sanitize_html", "script_hash"]

#: The report's own inline scripts (exact text). Reports need none today, so the policy is
#: ``script-src 'none'``; a script added here is kept by :func:`sanitize_html` and allowed by its hash.
REPORT_SCRIPTS: tuple[str, ...] = ()

#: Elements removed with everything inside them (their content is code, a plugin or inert markup).
_DROP_WITH_CONTENT = frozenset({"script", "iframe", "frame", "frameset", "object", "applet", "noscript",
                                "noembed", "noframes", "template", "portal", "fencedframe"})
#: Elements removed on their own (void or wrappers whose content may stay as text).
_DROP_TAG = frozenset({"embed", "base", "link", "param", "meta"})
#: ``<meta>`` that may stay: character set and viewport (``http-equiv`` never does).
_META_NAMES = frozenset({"viewport", "color-scheme", "description", "generator"})
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr", "base"})
#: URLs that run code when followed, loaded or framed: script schemes and every ``data:`` URL but an image.
_BAD_URL = re.compile(r"^(?:javascript:|vbscript:|livescript:|data:(?!image/))", re.I)
_ATTR_NAME = re.compile(r"^[a-zA-Z_:][-a-zA-Z0-9_:.]*$")
#: Element names written back; Python's parser accepts names such as ``scr<script`` that browsers read otherwise.
_TAG_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9:-]*$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def script_hash(script: str) -> str:
    """Return the CSP hash-source of an inline script: ``'sha256-<base64 of sha256(utf-8 text)>'``.

    Examples
    --------
    >>> script_hash("")
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    """
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(scripts: Iterable[str] = REPORT_SCRIPTS) -> str:
    """Return the Content-Security-Policy of a report that embeds exactly ``scripts`` inline.

    Parameters
    ----------
    scripts : iterable of str, default :data:`REPORT_SCRIPTS`
        The exact text of each inline script the page keeps.

    Returns
    -------
    str
        A policy for a ``<meta http-equiv="Content-Security-Policy">`` tag: ``default-src 'none'``,
        ``script-src`` with one hash per script (``'none'`` without scripts), inline styles only,
        images from ``data:`` and ``'self'``, fonts from ``data:`` only, no base URI, forms or frames.

    Notes
    -----
    Inline ``style`` is allowed (nbconvert's theme, pandas tables and their ``style`` attributes); it
    cannot run code, and the policy stops CSS from fetching anything but inline images and fonts.
    ``frame-ancestors`` and ``report-uri`` are ignored in a ``<meta>`` policy and left out.
    """
    hashes = sorted({script_hash(s) for s in scripts})
    script_src = " ".join(hashes) if hashes else "'none'"
    return ("default-src 'none'; "
            f"script-src {script_src}; "
            "style-src 'unsafe-inline'; "
            "img-src 'self' data:; "
            "font-src data:; "
            "connect-src 'none'; media-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; "
            "manifest-src 'none'; base-uri 'none'; form-action 'none'")


def _is_bad_url(value: str) -> bool:
    return bool(_BAD_URL.match(_CONTROL.sub("", html.unescape(value))))


class _Sanitizer(HTMLParser):
    """Re-emit a page token by token, dropping what can execute (see the module docstring)."""

    def __init__(self, allowed_scripts: frozenset[str], policy: str):
        super().__init__(convert_charrefs=True)
        self.allowed = allowed_scripts
        self.policy = policy
        self.out: list[str] = []
        self.stack: list[str] = []  # open elements, to know what a raw-text node belongs to
        self.skip: list[str] = []  # open elements being dropped with their content
        self.removed: list[str] = []
        self.policy_written = False
        self._script_attrs: str | None = None  # attributes of the open script; None when it has a src
        self._script_text: list[str] = []

    # -- helpers
    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        parts = []
        for name, value in attrs:
            low = name.lower()
            if not _ATTR_NAME.match(name) or low.startswith("on") or low in ("srcdoc", "formaction"):
                self.removed.append(f"{tag}[{low}]")
                continue
            if value is not None and _is_bad_url(value):
                self.removed.append(f"{tag}[{low}] URL")
                continue
            parts.append(f" {low}" if value is None else f' {low}="{html.escape(value, quote=True)}"')
        return "".join(parts)

    def _csp(self, *, with_head: bool = False) -> None:
        if not self.policy_written:
            content = html.escape(self.policy, quote=False).replace('"', "&quot;")  # the policy's quotes stay readable
            meta = f'<meta http-equiv="Content-Security-Policy" content="{content}">'
            self.out.append(f"<head>{meta}</head>" if with_head else meta)
            self.policy_written = True

    def _keep_meta(self, attrs: list[tuple[str, str | None]]) -> bool:
        a = {k.lower(): (v or "") for k, v in attrs}
        if "http-equiv" in a:
            return False
        return "charset" in a or a.get("name", "").lower() in _META_NAMES

    # -- tokens
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not _TAG_NAME.match(tag):
            self.removed.append("malformed tag")
            return
        if self.skip:
            if tag == self.skip[-1] and tag not in _VOID:
                self.skip.append(tag)
            return
        if tag not in ("html", "head"):
            self._csp(with_head=True)  # a page without a head still gets its policy before any content
        if tag == "script":
            self.skip.append(tag)  # kept only if its text is on the allow-list (decided at its end)
            external = any(k.lower() == "src" for k, _ in attrs)  # a fetched script is never the report's own
            self._script_attrs = None if external else self._attrs(tag, attrs)
            self._script_text = []
            return
        if tag in _DROP_WITH_CONTENT:
            self.removed.append(tag)
            self.skip.append(tag)
            return
        if tag in _DROP_TAG and not (tag == "meta" and self._keep_meta(attrs)):
            self.removed.append(tag)
            return
        self.out.append(f"<{tag}{self._attrs(tag, attrs)}>")
        if tag == "head":
            self._csp()
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not _TAG_NAME.match(tag):
            self.removed.append("malformed tag")
            return
        if tag in _VOID or self.skip or tag in _DROP_WITH_CONTENT or tag in _DROP_TAG:
            self.handle_starttag(tag, attrs)
            if tag == "script" and self.skip == ["script"]:
                self.handle_endtag("script")
            return
        self.out.append(f"<{tag}{self._attrs(tag, attrs)}/>")  # SVG's self-closing elements

    def handle_endtag(self, tag: str) -> None:
        if not _TAG_NAME.match(tag):
            return
        if self.skip:
            if tag == self.skip[-1]:
                self.skip.pop()
                if tag == "script" and not self.skip:
                    text = "".join(self._script_text)
                    if text in self.allowed and self._script_attrs is not None:
                        self.out.append(f"<script{self._script_attrs}>{text}</script>")
                    else:
                        self.removed.append("script")
            return
        if tag in _VOID or tag in _DROP_TAG:
            return
        if tag in self.stack:
            while self.stack:
                open_tag = self.stack.pop()
                self.out.append(f"</{open_tag}>")
                if open_tag == tag:
                    break
        if tag == "head":
            self._csp()

    def handle_data(self, data: str) -> None:
        if self.skip:
            if self.skip == ["script"]:
                self._script_text.append(data)
            return
        if self.stack and self.stack[-1] == "style":
            if "<" in data:
                self.removed.append("style with markup")
            else:
                self.out.append(data)
            return
        self.out.append(html.escape(data, quote=True))  # quotes too: the same text nbconvert and the header write

    def handle_comment(self, data: str) -> None:  # comments are dropped: parsers disagree on their edges
        return

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.out.append("<!DOCTYPE html>")

    def unknown_decl(self, data: str) -> None:  # CDATA sections of inline SVG
        if not self.skip and data.upper().startswith("CDATA["):
            self.out.append(html.escape(data[6:], quote=True))

    def handle_pi(self, data: str) -> None:
        return

    def close(self) -> None:
        super().close()
        self._csp(with_head=True)
        while self.stack:
            self.out.append(f"</{self.stack.pop()}>")


def sanitize_html(page: str, *, allowed_scripts: Iterable[str] = REPORT_SCRIPTS) -> str:
    """Remove every executable part of an HTML page except the allowed scripts, and add its CSP.

    Parameters
    ----------
    page : str
        A whole HTML document (a report or the index).
    allowed_scripts : iterable of str, default :data:`REPORT_SCRIPTS`
        Exact texts of the inline scripts to keep; the policy lists their hashes.

    Returns
    -------
    str
        The page with a ``Content-Security-Policy`` ``<meta>`` first in its ``<head>`` (one is added
        when the page has no head) and without: scripts not on the list, ``on*`` attributes,
        ``javascript:``/``vbscript:``/``data:text/html`` URLs, ``srcdoc``/``formaction``, ``<iframe>``,
        ``<object>``, ``<embed>``, ``<applet>``, ``<base>``, ``<link>``, ``<meta http-equiv>``
        (refresh, another policy), ``<noscript>``, ``<template>``, comments and CSS containing markup.

    Examples
    --------
    >>> out = sanitize_html('<html><head></head><body><img src=x onerror="alert(1)">'
    ...                     '<a href="java&#x09;script:alert(1)">a</a><script>alert(2)</script></body></html>')
    >>> out.split("</head>")[1]
    '<body><img src="x"><a>a</a></body></html>'
    """
    allowed = frozenset(allowed_scripts)
    parser = _Sanitizer(allowed, content_security_policy(allowed))
    parser.feed(page)
    parser.close()
    return "".join(parser.out)
