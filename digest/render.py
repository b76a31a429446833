"""Render a :class:`~digest.models.Digest` into the email's HTML and text parts.

Rendering is a pure function of its arguments. Everything that came from a feed is treated as
text: templates autoescape it, and the view built here has already cleaned it
(:mod:`digest.sanitize`: entities decoded once, stray tags and control characters removed,
only http(s) links kept). The one way to put feed HTML into a template is the ``sanitize``
filter, which runs nh3 with a small allow-list. The archive page and the Atom feed of past
digests are :mod:`digest.output`'s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import importlib.resources
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import css_inline
import jinja2

from digest import i18n
from digest.errors import RenderError
from digest.models import Article, Digest, DigestItem, DigestSection, FeedProblem, Image
from digest.sanitize import bidi_close, display_text, safe_url, sanitize_html, unref
from digest.sources.netguard import acceptable_image

__all__ = [
    "RenderOptions",
    "RenderedDigest",
    "fit_and_render",
    "format_subject",
    "make_environment",
    "render_digest",
    "render_template",
]

HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"
ARCHIVE_TEMPLATE = "archive.html"
ATOM_TEMPLATE = "feed.xml"

TEXT_WIDTH = 72
# Widest image inside the 600 px column (the card has 24 px of padding on each side).
IMAGE_MAX_WIDTH = 552
PREHEADER_CHARS = 140
# Footer lines about feeds with problems before "and N more feeds with problems".
MAX_PROBLEM_LINES = 10
# Names in "Also covered by" before "and N others".
MAX_ALSO_NAMES = 3


@dataclass(frozen=True)
class RenderedDigest:
    """The two parts of the email: ``html`` (CSS inlined, ready to send) and ``text``."""

    html: str
    text: str
    subject: str | None = None


# --------------------------------------------------------------------------- environment


def builtin_templates_dir() -> Path:
    """The folder of the built-in templates (the ``digest.templates`` package)."""
    try:
        root = importlib.resources.files("digest.templates")
    except ModuleNotFoundError:  # a source tree without the package mapping
        return Path(__file__).resolve().parent.parent / "templates"
    return Path(str(root))


def _wrap(value: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None) -> str:
    """Jinja filter: ``textwrap.fill`` that never breaks words or URLs."""
    return textwrap.fill(
        value,
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


class _TemplateLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader whose unreadable files are RenderErrors naming the file: a
    template saved in another encoding (or unreadable) is a mistake in that file."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        try:
            return super().get_source(environment, template)
        except jinja2.TemplateNotFound:
            raise  # an OSError too; the next folder (the built-in one) may have it
        except UnicodeDecodeError as exc:
            path = self._path(template)
            raise RenderError(
                f"{path}: not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}); "
                "save it as UTF-8 or delete it to use the built-in one"
            ) from None
        except OSError as exc:
            path = self._path(template)
            raise RenderError(
                f"{path}: cannot be read ({exc.strerror or exc}); fix its permissions or "
                "delete it to use the built-in one"
            ) from None

    def _path(self, template: str) -> Path:
        for folder in self.searchpath:
            candidate = Path(folder, *template.split("/"))
            if candidate.is_file():
                return candidate
        return Path(self.searchpath[0], template)


def make_environment(templates_dir: Path | None) -> jinja2.Environment:
    """A Jinja environment: templates in ``templates_dir`` first, then the built-in ones.

    Autoescape is on for .html and .xml, undefined names raise, and the filters ``wrap``,
    ``sanitize`` and ``safe_url`` are available to user templates.
    """
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(_TemplateLoader(str(templates_dir)))
    loaders.append(_TemplateLoader(str(builtin_templates_dir())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    env.filters["sanitize"] = sanitize_html
    env.filters["safe_url"] = safe_url
    env.filters["bidi_close"] = bidi_close
    env.filters["unref"] = unref
    return env


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path | None) -> jinja2.Environment:
    """A shared environment per folder; Jinja re-reads a template whose file changed."""
    return make_environment(templates_dir)


def _template_location(filename: str | None, templates_dir: Path | None) -> str:
    if not filename:
        return "template"
    path = Path(filename)
    if templates_dir is not None:
        try:
            path.resolve().relative_to(Path(templates_dir).resolve())
        except ValueError:
            pass
        else:
            return str(path)
    return f"built-in template {path.name}"


def _error_frame(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The innermost traceback frame that belongs to a template (Jinja rewrites them so)."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.endswith(".py") and not name.startswith("<"):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_template(name: str, templates_dir: Path | None, context: dict[str, Any]) -> str:
    """Render the template ``name`` (``templates_dir`` overriding the built-in ones) with
    ``context``; RenderError names file and line when it is broken."""
    return _render(_environment(templates_dir), name, templates_dir, context)


def _render(
    env: jinja2.Environment, name: str, templates_dir: Path | None, context: dict[str, Any]
) -> str:
    """Render template ``name``, turning any template mistake into a RenderError."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = _template_location(exc.filename, templates_dir)
        raise RenderError(
            f"{where} line {exc.lineno}: {exc.message} — fix the template or delete it to use "
            "the built-in one"
        ) from exc
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"template {exc.name} not found in {templates_dir or 'the built-in templates'} — "
            "restore it or remove templates_dir from config.yaml"
        ) from exc
    except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, ValueError) as exc:
        filename, line = _error_frame(exc.__traceback__)
        if filename is None:
            raise
        where = _template_location(filename, templates_dir)
        message = exc.message if isinstance(exc, jinja2.TemplateError) else str(exc)
        raise RenderError(
            f"{where} line {line}: {message} — fix the template or delete it to use the "
            "built-in one"
        ) from exc


# --------------------------------------------------------------------------- view


@dataclass(frozen=True)
class ItemView:
    """What a template shows for one item; ``item`` is the original for custom templates."""

    item: DigestItem
    title: str
    href: str | None
    source: str
    time: str | None
    iso_time: str | None
    reading: str
    lang: str | None
    dir: str
    badge: str | None
    summary: str
    sentences: tuple[str, ...]
    also: str | None
    image: Image | None
    number: int | None
    # True when ``summary`` is the start of the feed's own text, not chosen sentences.
    excerpt: bool = False


@dataclass(frozen=True)
class SectionView:
    section: DigestSection
    title: str
    items: tuple[ItemView, ...]
    more: str | None
    more_href: str | None
    links: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class ProblemView:
    """One footer line: the feed and what its problem means for the reader."""

    feed: str
    message: str
    kind: str
    kind_label: str


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


FALLBACK_TITLE_CHARS = 120


def _fallback_title(sentences: tuple[str, ...], text: str, language: str) -> tuple[str, bool]:
    """A headline for an untitled item, and whether it used up the first summary sentence.

    A short first sentence becomes the headline (and leaves the summary); otherwise the first
    words of the summary or text, cut with an ellipsis; "(untitled)" when there are none.
    """
    if sentences and len(sentences[0]) <= FALLBACK_TITLE_CHARS:
        return sentences[0], True
    words = (" ".join(sentences) or display_text(text)).split()
    if not words:
        return i18n.label(language, "untitled"), False
    head = " ".join(words[:12])
    return head + ("…" if len(words) > 12 else ""), False


def _image(image: Image | None, enabled: bool) -> Image | None:
    """The article's picture scaled into the column, or None for trackers and bad URLs.

    An email client loads pictures on the reader's machine, so one on a private or
    loopback host (``http://192.168.1.1/reboot.cgi``) would make opening the email a request
    to the reader's router: such pictures are dropped.
    """
    if not enabled or image is None:
        return None
    url = safe_url(image.url)
    if url is None or not acceptable_image(url, image.width, image.height):
        return None
    width = min(image.width, IMAGE_MAX_WIDTH)
    height = max(1, round(image.height * width / image.width))
    return Image(url=url, width=width, height=height, alt=display_text(image.alt))


class _Numbering:
    """Link numbers for the text part, running through the whole digest."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def _item_view(
    item: DigestItem,
    digest: Digest,
    zone: dt.tzinfo,
    numbering: _Numbering,
    images: bool,
) -> ItemView:
    article: Article = item.article
    lang_code = i18n.content_language(item.summary.language) or i18n.content_language(
        article.language
    )
    reader = digest.language
    sentences = tuple(s for s in (display_text(s) for s in item.summary.sentences) if s)
    title = display_text(article.title)
    if not title:
        title, used = _fallback_title(sentences, article.text, reader)
        if used:
            sentences = sentences[1:]
    href = safe_url(article.link)
    time: str | None = None
    iso_time: str | None = None
    if article.published is not None:
        published = article.published
        if published.tzinfo is None:  # the contract says aware UTC; be lenient
            published = published.replace(tzinfo=dt.UTC)
        local = published.astimezone(zone)
        time = i18n.local_time(local, digest.date, reader)
        iso_time = local.isoformat(timespec="minutes")
    badge = None
    if lang_code and i18n.primary(lang_code) != i18n.primary(reader):
        badge = i18n.language_name(lang_code, reader)
    reader_dir = i18n.text_direction(reader)
    also_names = [
        bidi_close(n, reader_dir) for n in (display_text(n) for n in item.also_covered_by) if n
    ]
    if len(also_names) > MAX_ALSO_NAMES:
        # A story a hundred feeds ran must not become a paragraph of names.
        rest = len(also_names) - MAX_ALSO_NAMES
        also_names = [*also_names[:MAX_ALSO_NAMES], i18n.plural(reader, "also_more", rest)]
    also = (
        i18n.label(reader, "also_covered_by", sources=i18n.join_names(also_names, reader))
        if also_names
        else None
    )
    return ItemView(
        item=item,
        title=title,
        href=href,
        source=display_text(article.feed),
        time=time,
        iso_time=iso_time,
        reading=i18n.reading_time(item.reading_minutes, reader),
        lang=lang_code,
        dir=i18n.text_direction(lang_code),
        badge=badge,
        summary=" ".join(sentences),
        sentences=sentences,
        also=also,
        image=_image(article.image, images),
        number=numbering.next() if href else None,
        excerpt=item.summary.excerpt,
    )


def _more_line(section: DigestSection, items: Sequence[DigestItem], language: str) -> str | None:
    if section.more <= 0:
        return None
    if section.other_feeds:
        return i18n.label(
            language,
            "more_from_others",
            n=section.more,
            feeds=i18n.plural(language, "feed", section.other_feeds),
        )
    feeds = {display_text(i.article.feed) for i in items}
    # A section named after its one feed reads "and 3 more from Antara"; a category section
    # names the category instead.
    name = next(iter(feeds)) if len(feeds) == 1 else display_text(section.title)
    name = bidi_close(name, i18n.text_direction(language))
    return i18n.label(language, "and_more", n=section.more, feed=name)


def _preheader(top: Sequence[ItemView], sections: Sequence[SectionView]) -> str:
    titles = [v.title for v in top] or [v.title for s in sections for v in s.items]
    text = " · ".join(titles)
    if len(text) > PREHEADER_CHARS:
        text = text[: PREHEADER_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ·") + "…"
    return text


def _context(
    digest: Digest, *, images: bool, unsubscribe: str | None, compact: bool = False
) -> dict[str, Any]:
    """Everything the built-in templates use; ``digest`` itself is there for custom ones."""
    zone = _zone(digest.timezone)
    language = digest.language
    numbering = _Numbering()
    top = tuple(_item_view(i, digest, zone, numbering, images) for i in digest.top)
    top_links = tuple((v.number, v.href) for v in top if v.number is not None and v.href)
    sections: list[SectionView] = []
    for section in digest.sections:
        views = tuple(_item_view(i, digest, zone, numbering, images) for i in section.items)
        links = [(v.number, v.href) for v in views if v.number is not None and v.href]
        more_href = safe_url(section.more_link)
        more = _more_line(section, section.items, language)
        if more is not None and more_href is not None:
            links.append((numbering.next(), more_href))
        sections.append(
            SectionView(
                section=section,
                title=(
                    i18n.label(language, "other_feeds")
                    if section.other_feeds
                    else display_text(section.title)
                ),
                items=views,
                more=more,
                more_href=more_href,
                links=tuple(links),
            )
        )
    all_items = list(digest.top) + [i for s in digest.sections for i in s.items]
    feeds = {display_text(i.article.feed) for i in all_items} | {
        display_text(n) for i in all_items for n in i.also_covered_by
    }
    feeds.discard("")
    generated = digest.generated_at
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=dt.UTC)
    generated_local = generated.astimezone(zone)
    when = (
        f"{i18n.long_date(generated_local.date(), language)} "
        f"{i18n.clock(generated_local, language)}"
    )
    for_reader = [p for p in digest.problems if p.for_reader]
    # The footer never crowds out the stories: a few lines, then a count (the rest are on
    # stderr and in `digest status`); when the email must shrink, only the count remains.
    shown = 0 if compact else MAX_PROBLEM_LINES
    problems = tuple(_problem_view(p, language) for p in for_reader[:shown])
    hidden = len(for_reader) - len(problems)
    more_problems = i18n.plural(language, "problems_more", hidden) if hidden and problems else None
    if hidden and not problems:
        more_problems = i18n.plural(language, "feed", hidden)
    return {
        "digest": digest,
        "language": i18n.valid_tag(language) or i18n.DEFAULT_LANGUAGE,
        "dir": i18n.text_direction(language),
        "title": display_text(digest.title),
        "date_long": i18n.long_date(digest.date, language),
        "count": len(all_items),
        "headline": i18n.stories_from_feeds(len(all_items), len(feeds), language),
        "preheader": _preheader(top, sections),
        "top": top,
        "top_links": top_links,
        "sections": tuple(sections),
        "problems": problems,
        "problems_more": more_problems,
        "generated": i18n.label(language, "generated", when=when),
        "generated_iso": generated_local.isoformat(timespec="minutes"),
        "unsubscribe": safe_url(unsubscribe) or _mailto(unsubscribe),
        "images": images,
        "labels": i18n.labels(language),
    }


def _mailto(url: str | None) -> str | None:
    """A mailto: unsubscribe address, kept only when it is a plain address."""
    if url and re.fullmatch(r"mailto:[^\s<>\"'@]+@[^\s<>\"'@]+(\?[^\s<>\"']*)?", url.strip()):
        return url.strip()
    return None


def _problem_view(problem: FeedProblem, language: str) -> ProblemView:
    since = i18n.short_date(problem.since.date(), language) if problem.since else "?"
    text = i18n.label(language, f"problem_{problem.kind}", since=since)
    return ProblemView(
        feed=display_text(problem.feed), message=text, kind=problem.kind, kind_label=text
    )


# --------------------------------------------------------------------------- digest


def _inline(html: str) -> str:
    """Inline the <style> rules; keep @media blocks (dark mode, phones); never fetch CSS."""
    inliner = css_inline.CSSInliner(
        keep_at_rules=True,
        load_remote_stylesheets=False,
        keep_link_tags=False,
        # "margin:0" instead of "margin: 0;": about a tenth off every item's size.
        minify_css=True,
    )
    inlined = str(inliner.inline(html))
    # css-inline puts the kept <style> first in <head>; the charset must stay within the first
    # 1024 bytes or a browser opening the saved file may guess another encoding.
    charset = '<meta charset="utf-8">'
    if charset in inlined and "<head>" in inlined:
        inlined = inlined.replace(charset, "", 1).replace("<head>", "<head>" + charset, 1)
    return inlined


def _tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    # "-- " (with its space) is the signature delimiter mail clients recognise.
    lines = [line if line == "-- " else line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def _render_once(
    digest: Digest,
    env: jinja2.Environment,
    templates_dir: Path | None,
    images: bool,
    unsubscribe: str | None,
    compact: bool = False,
) -> RenderedDigest:
    context = _context(digest, images=images, unsubscribe=unsubscribe, compact=compact)
    html = _inline(_render(env, HTML_TEMPLATE, templates_dir, context))
    text = _tidy_text(_render(env, TEXT_TEMPLATE, templates_dir, context))
    return RenderedDigest(html=html, text=text)


def _shrink(digest: Digest, drop: int) -> Digest:
    """``digest`` with ``drop`` items removed from the ends of its longest sections."""
    sections = list(digest.sections)
    top = list(digest.top)
    for _ in range(drop):
        candidates = [i for i, s in enumerate(sections) if s.items]
        if candidates:
            # The longest section loses its last item; ties go to the later section, which
            # the reader reaches last.
            index = max(candidates, key=lambda i: (len(sections[i].items), i))
            section = sections[index]
            sections[index] = dataclasses.replace(
                section, items=section.items[:-1], more=section.more + 1
            )
        elif top:
            top.pop()
        else:
            break
    return dataclasses.replace(digest, sections=tuple(sections), top=tuple(top))


def _item_total(digest: Digest) -> int:
    return len(digest.top) + sum(len(s.items) for s in digest.sections)


def _fit(
    digest: Digest,
    env: jinja2.Environment,
    templates_dir: Path | None,
    images: bool,
    unsubscribe: str | None,
    max_html_kb: int,
) -> tuple[Digest, RenderedDigest]:
    limit = max_html_kb * 1024
    current = digest
    rendered = _render_once(current, env, templates_dir, images, unsubscribe)
    if len(rendered.html.encode("utf-8")) <= limit:
        return current, rendered
    # Footer detail goes before stories: the problem lines become a count first.
    rendered = _render_once(current, env, templates_dir, images, unsubscribe, compact=True)
    while len(rendered.html.encode("utf-8")) > limit and _item_total(current) > 0:
        size = len(rendered.html.encode("utf-8"))
        # Estimate how many items to drop from the average item size, so a huge digest
        # converges in a few renders instead of one render per item.
        empty = _render_once(
            _shrink(current, _item_total(current)),
            env,
            templates_dir,
            images,
            unsubscribe,
            compact=True,
        )
        base = len(empty.html.encode("utf-8"))
        per_item = max(1.0, (size - base) / _item_total(current))
        drop = max(1, math.ceil((size - limit) / per_item))
        current = _shrink(current, drop)
        rendered = _render_once(current, env, templates_dir, images, unsubscribe, compact=True)
    return current, rendered


@dataclass(frozen=True)
class RenderOptions:
    """How a digest is rendered: the config's templates, images, unsubscribe link and size
    cap, gathered once (see :func:`render_options`)."""

    templates_dir: Path | None = None
    images: bool = True
    unsubscribe: str | None = None
    max_html_kb: int = 100


def fit_and_render(
    digest: Digest, options: RenderOptions = RenderOptions()
) -> tuple[Digest, RenderedDigest]:
    """``digest`` with items dropped from the ends of its longest sections (counted in their
    "and N more" line) until its inlined HTML fits in ``max_html_kb``, and its rendering.

    The pipeline records the fitted digest, so an item cut for size stays available for a
    later digest instead of being marked as sent. Raises RenderError naming file and line
    when a template is broken.
    """
    env = _environment(options.templates_dir)
    return _fit(
        digest,
        env,
        options.templates_dir,
        options.images,
        options.unsubscribe,
        options.max_html_kb,
    )


def fit_digest(
    digest: Digest,
    *,
    templates_dir: Path | None = None,
    images: bool = True,
    unsubscribe: str | None = None,
    max_html_kb: int = 100,
) -> Digest:
    """:func:`fit_and_render`'s digest alone."""
    options = RenderOptions(templates_dir, images, unsubscribe, max_html_kb)
    return fit_and_render(digest, options)[0]


def render_digest(
    digest: Digest,
    *,
    templates_dir: Path | None = None,
    images: bool = True,
    unsubscribe: str | None = None,
    max_html_kb: int = 100,
    subject: str | None = None,
) -> RenderedDigest:
    """The email's HTML (CSS inlined) and text parts for ``digest``; a pure function.

    When the inlined HTML is larger than ``max_html_kb`` kilobytes, items are dropped as
    :func:`fit_and_render` does until it fits. ``subject``, when given, is an
    ``email.subject`` template filled by :func:`format_subject` with the number of stories
    actually shown.
    """
    options = RenderOptions(templates_dir, images, unsubscribe, max_html_kb)
    current, rendered = fit_and_render(digest, options)
    if subject is not None:
        line = format_subject(
            subject,
            title=digest.title,
            date=digest.date,
            count=_item_total(current),
            language=digest.language,
        )
        rendered = dataclasses.replace(rendered, subject=line)
    return rendered


def format_subject(template: str, *, title: str, date: dt.date, count: int, language: str) -> str:
    """The subject line: ``template`` with {title}, {date} (long, in ``language``), {count}.

    Raises RenderError when the template names another field or is malformed.
    """
    try:
        subject = template.format(
            title=display_text(title), date=i18n.long_date(date, language), count=count
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise RenderError(
            f"email.subject {template!r}: {exc} — use only {{title}}, {{date}} and {{count}}"
        ) from exc
    # A header must be one line.
    return re.sub(r"\s+", " ", subject).strip()
