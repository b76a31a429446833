"""Feed text made safe and presentable for the email: one home for what strangers wrote.

* :func:`display_text`: entities decoded once, tags and control characters removed, one line;
  still plain text, which templates escape.
* :func:`safe_url`: only http(s) links, with a host that is what it looks like.
* :func:`sanitize_html`: feed HTML through nh3 with a small allow-list (the template filter
  ``sanitize``).
* bidi helpers, so right-to-left names never reverse the rest of a line, and ``unref``, so a
  feed's text cannot fake the text part's numbered link references.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
import urllib.parse

import nh3
from markupsafe import Markup

# Only real HTML element names count as markup: "Vector<T>" or "<D>" in a headline is text.
_HTML_ELEMENTS = (
    "a|abbr|acronym|address|applet|area|article|aside|audio|b|base|basefont|bdi|bdo|bgsound|big|"
    "blink|blockquote|body|br|button|canvas|caption|center|cite|code|col|colgroup|data|datalist|"
    "dd|del|details|dfn|dialog|dir|div|dl|dt|em|embed|fieldset|figcaption|figure|font|footer|"
    "form|frame|frameset|h[1-6]|head|header|hgroup|hr|html|i|iframe|ilayer|image|img|input|ins|"
    "isindex|kbd|keygen|label|layer|legend|li|link|listing|main|map|mark|marquee|math|menu|"
    "menuitem|meta|meter|nav|nobr|noembed|noframes|noscript|object|ol|optgroup|option|output|p|"
    "param|picture|plaintext|portal|pre|progress|q|rp|rt|ruby|s|samp|script|search|section|"
    "select|slot|small|source|spacer|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|"
    "template|textarea|tfoot|th|thead|time|title|tr|track|tt|u|ul|var|video|wbr|xml|xmp"
)
# Known elements in any case, and any lower-case name ("<command/>", Word's "<o:p>"); an
# upper-case unknown name ("<T>") is left as text. A tag cut off at the end of a truncated
# teaser ("... <img src=x") goes too.
_TAG = re.compile(
    rf"</?(?:(?i:{_HTML_ELEMENTS})|[a-z][a-z0-9:-]*)(?:\s[^<>]*)?(?:/?>|$)"
    r"|<!--.*?(?:-->|$)|<!\[CDATA\[|\]\]>|<![A-Za-z][^<>]*>|<\?[^<>]*\?>",
    re.S,
)
_SCRIPT_BODY = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.S | re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff]")
# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the marks
# (U+200E, U+200F, U+061C): in a feed's name or title an unclosed override reverses the rest
# of the line it lands in ("7 Jan" read backwards). Feed text loses them; the templates
# isolate feed text themselves where it meets our own words.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_SPACES = re.compile(r"\s+")


_INLINE_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "big",
        "cite",
        "code",
        "del",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    ]
)


def _tag_gap(match: re.Match[str]) -> str:
    """Nothing for an inline tag ("<b>un</b>veil" stays one word), a space for a block one."""
    name = re.match(r"</?([A-Za-z0-9]+)", match.group(0))
    return "" if name and name.group(1).lower() in _INLINE_ELEMENTS else " "


def display_text(value: str | None) -> str:
    """Feed text made presentable: entities decoded, tags and controls removed, one line.

    Feeds double-escape and leave markup in titles; the reader should see neither
    ``&amp;amp;`` nor ``<b>``. The result is still plain text that templates escape.
    """
    if not value:
        return ""
    text = value
    # Feeds escape twice now and then ("&amp;amp;"); decode until stable, at most three times.
    for _ in range(3):
        decoded = html_lib.unescape(text)
        if decoded == text:
            break
        text = decoded
    # A script's or style's body is not text the reader should see.
    text = _SCRIPT_BODY.sub(" ", text)
    text = _TAG.sub(_tag_gap, text)
    text = _BIDI_CONTROL.sub("", _CONTROL.sub("", text))
    return _SPACES.sub(" ", text).strip()


# "[3]" (or "［３］", "[ 3 ]") in feed text would look like one of the text part's numbered
# link references, so a title "[1] https://evil.example/login" could pass for a real link.
_FAKE_REF = re.compile(r"[\[［]\s*([0-9０-９]+)\s*[\]］]")


def unref(value: str) -> str:
    """Feed text for the plain-text part with every "[n]" written "(n)": only the
    references digest adds look like "[n]" (Jinja filter ``unref``)."""
    return _FAKE_REF.sub(r"(\1)", value) if value else value


_LRM, _RLM = "\u200e", "\u200f"


def _has_strong(text: str, rtl: bool) -> bool:
    wanted = ("R", "AL") if rtl else ("L",)
    return any(unicodedata.bidirectional(c) in wanted for c in text)


def bidi_close(value: str, direction: str = "ltr") -> str:
    """``value`` followed by the mark of ``direction`` (LRM or RLM) when it holds letters of
    the other direction, so the words and numbers after it in a plain-text line keep their
    place: "BBC اردو · 7 Jan" would otherwise show the 7 before the name. Jinja filter
    ``bidi_close(dir)`` for the text part, where there is no ``<bdi>``."""
    rtl = direction == "rtl"
    if value and _has_strong(value, rtl=not rtl):
        return value + (_RLM if rtl else _LRM)
    return value


_HOST = re.compile(r"[a-z0-9_](?:[a-z0-9._-]*[a-z0-9_])?|[0-9a-f:.]*:[0-9a-f:.]*")


def _ascii_host(host: str) -> str | None:
    """The hostname in ASCII (punycode), so a homoglyph domain shows as what it is; None when
    it is not a plausible DNS name or IP address."""
    host = host.rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host if _HOST.fullmatch(host) else None


def safe_url(url: str | None) -> str | None:
    """``url`` normalised when it is an absolute http(s) URL, else None.

    Drops javascript:, data:, relative and scheme-less URLs, credentials (``https://bank@evil``)
    and non-ASCII hostnames (written as punycode instead). Whitespace and control characters
    that browsers silently strip (``java\\tscript:``) are removed before the scheme is read.
    """
    if not url:
        return None
    candidate = _CONTROL.sub("", re.sub(r"[\t\n\r ]", "", html_lib.unescape(url.strip())))
    try:
        parts = urllib.parse.urlsplit(candidate)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = _ascii_host(parts.hostname)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    # Re-quote so no quote, angle bracket or non-ASCII character survives in the href.
    path = urllib.parse.quote(parts.path, safe="/%:@!$&()*+,;=-._~")
    query = urllib.parse.quote(parts.query, safe="/%:@!$&()*+,;=-._~?")
    fragment = urllib.parse.quote(parts.fragment, safe="/%:@!$&()*+,;=-._~?")
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, path or "/", query, fragment))


_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "em",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
}


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "a" and attribute == "href":
        return safe_url(value)
    return value


def sanitize_html(fragment: str | None) -> Markup:
    """Feed HTML reduced to harmless inline markup (nh3 allow-list): no images, styles,
    scripts, event handlers or non-http(s) links. The only way feed HTML may reach a template.
    """
    if not fragment:
        return Markup("")
    cleaned = nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_filter_attribute,
    )
    return Markup(cleaned)
