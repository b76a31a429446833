"""Unit tests of digest.render and digest.i18n: the email's HTML and text, archive, Atom."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render_fixtures import GENERATED, article, item, sample_digest

from digest import i18n
from digest.errors import RenderError
from digest.models import Digest, DigestSection, FeedProblem
from digest.output import ArchiveEntry, render_archive, render_atom
from digest.render import (
    RenderedDigest,
    RenderOptions,
    fit_and_render,
    format_subject,
    make_environment,
    render_digest,
)
from digest.sanitize import display_text, safe_url, sanitize_html


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def rendered() -> RenderedDigest:
    return render_digest(sample_digest(), unsubscribe="https://example.org/unsubscribe?u=42")


# --------------------------------------------------------------------------- HTML


def test_html_is_email_safe(rendered: RenderedDigest) -> None:
    html = rendered.html
    doc = parse(html)
    names = {tag for tag, _ in doc.tags}
    assert "script" not in names and "link" not in names and "iframe" not in names
    assert "@import" not in html and "fonts.googleapis" not in html and "@font-face" not in html
    # Inlined: elements carry their style; the @media blocks survive in one <style>.
    assert 'class="headline-top" style="' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert "@media (max-width: 620px)" in html
    assert re.search(r"@media \(prefers-color-scheme: dark\)[^@]*\ba[ ,{]", html), "links"
    metas = {a.get("name"): a.get("content") for t, a in doc.tags if t == "meta"}
    assert metas["color-scheme"] == "light dark"
    assert html.index('<meta charset="utf-8">') < 1024
    # The column is at most 600 px and fluid below.
    assert "max-width:600px" in html and 'width="600"' in html


def test_html_language_and_direction(rendered: RenderedDigest) -> None:
    doc = parse(rendered.html)
    tag, attrs = doc.tags[0]
    assert (tag, attrs["lang"], attrs["dir"]) == ("html", "en", "ltr")
    items = [a for t, a in doc.tags if t == "td" and (a.get("class") or "").startswith("item")]
    assert len(items) == 6
    assert [a["lang"] for a in items] == ["en", "en", "en", "ur", "id", "en"]
    assert [a["dir"] for a in items] == ["ltr", "ltr", "ltr", "rtl", "ltr", "ltr"]
    assert '<span class="badge"' in rendered.html
    assert ">Indonesian</span>" in rendered.html and ">Urdu</span>" in rendered.html


def test_html_content(rendered: RenderedDigest) -> None:
    html = rendered.html
    # Inline elements (<bdi>) split text nodes; compare words, not the spaces between them.
    text = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "Morning Digest" in text
    assert "Thursday, 26 November 2026 · 6 stories from 7 feeds" in text
    assert "Top stories" in text
    # 22:15 UTC is 05:15 the next morning in Jakarta; older items carry their day.
    assert "Example News · 05:15 · 4 min read" in text
    assert "Tech & Science · 25 Nov 16:00 · 3 min read" in text
    assert "Also covered by Daily Courier and Metro Wire" in text
    assert "and 3 more from World" in text
    assert "and 1 more from Notes" in text
    # The reader's words only: no URL, no advice meant for whoever runs digest, no warnings.
    assert "Broken Feed: could not be read for this digest" in text
    assert "broken.example" not in text and "check the URL" not in text
    assert "Slow Feed" not in text
    assert "Generated Thursday, 26 November 2026 07:05 · made by digest" in text
    assert 'href="https://example.org/unsubscribe?u=42"' in html
    # Markup and double escaping in a feed title are cleaned, then escaped once.
    assert "Researchers &amp; engineers unveil a quieter jet engine" in html
    assert "&lt;b&gt;" not in html and "&amp;amp;" not in html


def test_preheader_lists_top_stories(rendered: RenderedDigest) -> None:
    match = re.search(r'<div class="preheader"[^>]*>([^<]*)', rendered.html)
    assert match
    assert match.group(1).startswith(
        "Council approves the new riverside park after a decade of debate · Researchers"
    )
    assert "display:none" in rendered.html[match.start() : match.end()]


def test_images_have_alt_and_size_and_trackers_are_dropped(rendered: RenderedDigest) -> None:
    images = [a for t, a in parse(rendered.html).tags if t == "img"]
    assert len(images) == 1  # the 1x1 tracker of the second story is gone
    (image,) = images
    assert image["src"] == "https://img.example.org/park.jpg"
    assert image["alt"] == "The river"
    assert (image["width"], image["height"]) == ("552", "310")
    assert "tracker.example.com" not in rendered.html

    without = render_digest(sample_digest(), images=False)
    assert "<img" not in without.html and "img.example.org" not in without.html


def test_item_without_title_link_or_date(rendered: RenderedDigest) -> None:
    html = rendered.html
    # A short first summary sentence becomes the headline, without a link or a time.
    start = html.index("Water levels at the northern reservoir fell for the third week in a row.")
    heading = html[html.rindex("<h3", 0, start) : html.index("</h3>", start)]
    assert "<a " not in heading
    assert html.count("Water levels at the northern") == 1
    assert "Farmers downstream were asked" in html
    assert "Notes · 1 min read" in re.sub(r"\s+", " ", " ".join(parse(html).text))


def untitled_digest(sentences: tuple[str, ...]) -> Digest:
    return dataclasses.replace(
        sample_digest(),
        top=(),
        sections=(
            DigestSection(
                title="Misc",
                items=(
                    item(article("x", title="", link=None, published=None, text=""), sentences),
                ),
            ),
        ),
    )


def test_untitled_fallbacks() -> None:
    nothing = render_digest(untitled_digest(()))
    assert "(untitled)" in nothing.html and " * (untitled)" in nothing.text

    long_first = "A very long first sentence " + "that keeps going " * 10 + "until it ends."
    result = render_digest(untitled_digest((long_first,)))
    assert ">A very long first sentence that keeps going that keeps going" in result.html
    assert "keeps going that…</h3>" in result.html
    assert long_first in result.html  # the whole sentence still shows as the summary


def test_every_href_is_http(rendered: RenderedDigest) -> None:
    hrefs = [a.get("href") for t, a in parse(rendered.html).tags if t == "a"]
    assert hrefs and all(h and re.match(r"https?://", h) for h in hrefs)


def test_rendering_is_pure() -> None:
    assert render_digest(sample_digest()) == render_digest(sample_digest())


def test_empty_digest_says_so() -> None:
    empty = dataclasses.replace(sample_digest(), top=(), sections=(), problems=())
    result = render_digest(empty)
    assert "Nothing new today." in result.html
    assert "0 stories from 0 feeds" in result.text
    assert "Nothing new today." in result.text


def test_indonesian_reader() -> None:
    result = render_digest(sample_digest("id"))
    text = " ".join(parse(result.html).text)
    assert parse(result.html).tags[0][1]["lang"] == "id"
    assert "Kamis, 26 November 2026 · 6 berita dari 7 sumber" in text
    assert "Berita utama" in text
    assert "4 menit baca" in text
    assert "Juga diberitakan oleh Daily Courier dan Metro Wire" in text
    assert "dan 3 lagi dari World" in text
    assert "Sumber bermasalah" in text
    # An Indonesian item in an Indonesian digest has no badge; the English ones do.
    assert ">Inggris</span>" in result.html and ">Indonesia</span>" not in result.html
    assert "05.15" in text  # Indonesian writes times with a dot


def test_unknown_reader_language_falls_back_to_english_labels() -> None:
    result = render_digest(sample_digest("de"))
    assert parse(result.html).tags[0][1]["lang"] == "de"
    assert "Top stories" in result.text.title() or "TOP STORIES" in result.text


# --------------------------------------------------------------------------- text


def test_text_part(rendered: RenderedDigest) -> None:
    text = rendered.text
    for line in text.splitlines():
        if len(line) > 72:
            # Only a URL may run past 72 columns (it must not be broken).
            assert re.fullmatch(r"(\[\d+\] |[^:]{1,40}: |\s*)https?://\S+", line), line
    assert "<" not in text.replace("<>", "")
    assert not re.search(r"&[a-z]+;|&#\d+;", text)
    assert "Researchers & engineers unveil a quieter jet engine [2]" in text
    assert "[1] https://example.org/news/riverside-park" in text
    assert "[5] https://example.org/news/" in text  # the "and 3 more" link
    # Links are listed under their section, after its items.
    world = text.index("WORLD")
    assert world < text.index("[3] https://example.org/news/trade-talks") < text.index("INDONESIA")
    assert "\n-- \n" in text
    assert text.endswith("Unsubscribe: https://example.org/unsubscribe?u=42\n")


def test_text_wraps_long_summaries() -> None:
    long = " ".join(["Sentence number one goes on and on."] * 12)
    digest = dataclasses.replace(
        sample_digest(),
        top=(),
        sections=(DigestSection(title="Long", items=(item(article("l"), (long,)),)),),
    )
    lines = render_digest(digest).text.splitlines()
    body = [line for line in lines if "Sentence number" in line]
    assert len(body) >= 6
    assert all(len(line) <= 72 and line.startswith("   ") for line in body)


# --------------------------------------------------------------------------- size cap


def test_html_is_capped_and_cut_items_are_counted() -> None:
    sentences = tuple(
        f"Sentence {n} of a long and detailed summary about things." for n in range(4)
    )
    sections = tuple(
        DigestSection(
            title=f"Section {s}",
            items=tuple(
                item(
                    article(
                        f"{s}-{i}",
                        feed=f"Feed {s}",
                        title=f"Story {s}.{i} with a reasonably long headline",
                        link=f"https://example.org/{s}/{i}",
                    ),
                    sentences,
                )
                for i in range(60 if s == 0 else 25)
            ),
        )
        for s in range(5)
    )
    digest = dataclasses.replace(sample_digest(), top=(), sections=sections)
    full = render_digest(digest, max_html_kb=1000)
    assert len(full.html.encode()) > 100 * 1024

    capped = render_digest(digest, max_html_kb=100)
    assert len(capped.html.encode()) <= 100 * 1024
    shown = capped.html.count('class="item"')
    more = sum(int(n) for n in re.findall(r"and (\d+) more from", capped.text))
    assert shown + more == 60 + 4 * 25
    assert shown > 80  # not more cut than needed
    # The longest section lost items first.
    assert "and 0 more" not in capped.text


# --------------------------------------------------------------------------- templates


def test_user_template_overrides_one_file(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("{{ title }}: {{ count }} items\n", encoding="utf-8")
    result = render_digest(sample_digest(), templates_dir=tmp_path)
    assert result.text == "Morning Digest: 6 items\n"
    assert "Top stories" in result.html  # digest.html still the built-in one


def test_user_templates_still_autoescape(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text(
        "<p>{% for s in sections %}{% for v in s.items %}{{ v.item.article.title }}"
        "{% endfor %}{% endfor %}</p>",
        encoding="utf-8",
    )
    digest = dataclasses.replace(
        sample_digest(),
        top=(),
        sections=(DigestSection("S", (item(article("x", title="<script>x()</script>"), ()),)),),
    )
    assert "&lt;script&gt;" in render_digest(digest, templates_dir=tmp_path).html


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text("<p>\n{{ title }}\n{% if %}\n</p>\n", encoding="utf-8")
    with pytest.raises(RenderError) as info:
        render_digest(sample_digest(), templates_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "digest.html") in message and "line 3" in message
    assert "delete it to use the built-in one" in message


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "digest.html").write_text("<p>\n{{ title }}\n\n{{ foo }}</p>\n", encoding="utf-8")
    with pytest.raises(RenderError) as info:
        render_digest(sample_digest(), templates_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "digest.html") in message
    assert "line 4" in message and "'foo' is undefined" in message


def test_environment_settings(tmp_path: Path) -> None:
    env = make_environment(tmp_path)
    autoescape = env.autoescape
    assert callable(autoescape)
    assert autoescape("x.html") and autoescape("x.xml") and not autoescape("x.txt")
    assert env.from_string("{{ '<b>' | sanitize }}").render() == "<b></b>"
    assert {"digest.html", "digest.txt", "archive.html", "feed.xml", "email.css"} <= set(
        env.list_templates()
    )


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2"),
        ("HTTP://Example.ORG", "http://example.org/"),
        ("javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        (" JaVaScRiPt:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("vbscript:msgbox", None),
        ("//example.org/x", None),
        ("/relative", None),
        ("mailto:a@example.org", None),
        ("https://paypal.com@evil.example/x", "https://evil.example/x"),
        ("https://pаypal.com/login", "https://xn--pypal-4ve.com/login"),
        ('https://example.org/"onmouseover="x', "https://example.org/%22onmouseover=%22x"),
        ("https://example.org:99999/", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AT&amp;amp;T &lt;b&gt;wins&lt;/b&gt;", "AT&T wins"),
        ("<b>un</b>veil", "unveil"),
        ("<p>one</p><p>two</p>", "one two"),
        ("a<script>alert(1)</script>b", "a b"),
        ("Vector<T> and <D>", "Vector<T> and <D>"),
        ("zero\u200bwidth\x00 and\n\tspace", "zerowidth and space"),
        (None, ""),
    ],
)
def test_clean_text(value: str | None, expected: str) -> None:
    assert display_text(value) == expected


def test_sanitize_html_allow_list() -> None:
    dirty = (
        '<p onclick="x()">Hi <a href="javascript:alert(1)">x</a> <a href="https://ok.example/">'
        'ok</a><img src="https://t.example/p.gif" width=1 height=1><script>bad()</script>'
        '<span style="background:url(javascript:x)">s</span></p>'
    )
    clean = str(sanitize_html(dirty))
    for bad in ("onclick", "javascript", "<img", "script", "style"):
        assert bad not in clean
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow">ok</a>' in clean


def test_format_subject() -> None:
    subject = format_subject(
        "{title} for {date} ({count})",
        title="Morning Digest",
        date=dt.date(2026, 11, 26),
        count=12,
        language="id",
    )
    assert subject == "Morning Digest for Kamis, 26 November 2026 (12)"
    with pytest.raises(RenderError, match=r"\{title\}, \{date\} and \{count\}"):
        format_subject("{nope}", title="t", date=dt.date(2026, 1, 1), count=0, language="en")


def test_i18n_tables() -> None:
    assert i18n.long_date(dt.date(2026, 11, 26), "en") == "Thursday, 26 November 2026"
    assert i18n.long_date(dt.date(2026, 8, 17), "id") == "Senin, 17 Agustus 2026"
    assert i18n.long_date(dt.date(2026, 8, 17), "xx") == "Monday, 17 August 2026"
    assert i18n.reading_time(0, "en") == "1 min read"
    assert i18n.reading_time(5, "id-ID") == "5 menit baca"
    assert i18n.stories_from_feeds(1, 1, "en") == "1 story from 1 feed"
    for code in ("ar", "he", "fa", "ur", "ps", "sd", "yi", "dv", "ug", "ckb", "ar-EG", "ku-Arab"):
        assert i18n.text_direction(code) == "rtl", code
    for other in ("en", "id", "zh", None, ""):
        assert i18n.text_direction(other) == "ltr"
    assert i18n.valid_tag('en" onload="x') is None
    assert i18n.join_names(["A", "B", "C"], "en") == "A, B and C"


# --------------------------------------------------------------------------- archive, Atom

ENTRIES = [
    ArchiveEntry(dt.date(2026, 11, 24), "Morning Digest", "2026-11-24.html", 9, "Old news"),
    ArchiveEntry(dt.date(2026, 11, 26), "Morning Digest", "2026-11-26.html", 12, "Park & <D> · B"),
    ArchiveEntry(dt.date(2026, 11, 25), "Morning Digest", "javascript:alert(1)", 1, "One"),
]


def test_archive_lists_newest_first() -> None:
    page = render_archive(ENTRIES, title="Morning Digest", language="en")
    doc = parse(page)
    hrefs = [a["href"] for t, a in doc.tags if t == "a"]
    # The javascript: entry keeps no link.
    assert hrefs == ["feed.xml", "2026-11-26.html", "2026-11-24.html"]
    text = " ".join(doc.text)
    assert text.index("Thursday, 26 November 2026") < text.index("Wednesday, 25 November 2026")
    assert text.index("Wednesday, 25 November 2026") < text.index("Tuesday, 24 November 2026")
    assert "12 stories" in text and "1 story" in text
    assert "Park &amp; &lt;D&gt; · B" in page
    assert 'type="application/atom+xml"' in page
    assert "No digests yet." in render_archive([], title="T", language="en")
    assert "Arsip" in render_archive(ENTRIES, title="T", language="id")


@pytest.mark.parametrize("base_url", ["https://news.example.org/digest", None])
def test_atom_feed_parses_back(base_url: str | None) -> None:
    xml = render_atom(ENTRIES, title="Morning Digest", base_url=base_url, updated=GENERATED)
    feed = feedparser.parse(xml.encode("utf-8"))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Morning Digest"
    assert [e.updated_parsed[:3] for e in feed.entries] == [
        (2026, 11, 26),
        (2026, 11, 25),
        (2026, 11, 24),
    ]
    assert feed.entries[0].summary == "Park & <D> · B"
    ids = [e.id for e in feed.entries]
    assert len(set(ids)) == 3 and all(i.startswith("tag:") for i in ids)
    if base_url:
        assert feed.entries[0].link == "https://news.example.org/digest/2026-11-26.html"
        assert ids[0] == "tag:news.example.org,2026-11-26:morning-digest"
        assert feed.feed.id == "https://news.example.org/digest/feed.xml"
    assert "javascript" not in xml
    # Ids depend on the date only: rebuilding with other content keeps them.
    again = render_atom(
        [dataclasses.replace(e, items=e.items + 1, summary="changed") for e in ENTRIES],
        title="Morning Digest",
        base_url=base_url,
        updated=GENERATED + dt.timedelta(hours=1),
    )
    assert [e.id for e in feedparser.parse(again.encode()).entries] == ids


def test_digest_model_round_trip_type() -> None:
    # Guards the fixture itself: it must stay a real Digest value.
    assert isinstance(sample_digest(), Digest)


def test_subject_counts_the_stories_shown() -> None:
    result = render_digest(sample_digest("id"), subject="{title} — {date}: {count} berita")
    assert result.subject == "Morning Digest — Kamis, 26 November 2026: 6 berita"
    assert render_digest(sample_digest()).subject is None


def test_undetermined_language_gets_no_badge() -> None:
    und = item(article("u", language=None), ("Text.",), language="und")
    digest = dataclasses.replace(sample_digest(), top=(), sections=(DigestSection("S", (und,)),))
    html = render_digest(digest).html
    assert 'lang=""' in html and "UND" not in html and 'class="badge"' not in html


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            lambda scheme, rest: scheme + rest,
            st.sampled_from(["http://", "https://", "HTTPS://", " java\tscript:", "data:", "//"]),
            st.text(),
        ),
    )
)
def test_safe_url_only_yields_plain_http_urls(url: str) -> None:
    result = safe_url(url)
    if result is not None:
        assert re.fullmatch(r"https?://[\x21-\x7e]+", result), result
        assert not set(result) & set("\"'<>\\` ")
        assert "@" not in result.split("/")[2]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_clean_text_is_one_clean_line(value: str) -> None:
    result = display_text(value)
    assert "\n" not in result and result == result.strip()
    assert not re.search(r"<(script|img|a|iframe)(\s[^<>]*)?>", result, re.I)


def _problems(n: int) -> tuple[FeedProblem, ...]:
    return tuple(
        FeedProblem(f"Feed {i:03d}", f"HTTP 500 at https://feed{i}.example/ (digest retries)")
        for i in range(n)
    )


def test_the_footer_never_crowds_out_the_stories() -> None:
    many = dataclasses.replace(sample_digest(), problems=_problems(133))
    rendered = render_digest(many)
    text = rendered.text
    shown = [line for line in text.splitlines() if line.startswith(" - Feed ")]
    assert len(shown) == 10
    assert "and 123 more feeds with problems" in text
    # Every story is still there.
    assert render_digest(sample_digest()).text.count(" * ") == text.count(" * ")


def test_when_the_email_must_shrink_footer_detail_goes_before_stories() -> None:
    digest = dataclasses.replace(sample_digest(), problems=_problems(10))
    full = render_digest(digest, max_html_kb=1000)
    limit_kb = (len(full.html.encode()) - 200) // 1024  # a little too big with the footer
    fitted, rendered = fit_and_render(digest, RenderOptions(max_html_kb=limit_kb))
    assert len(fitted.items) == len(digest.items)  # no story was cut
    assert "Feed 000" not in rendered.text and "10 feeds" in rendered.text


def test_also_covered_by_names_three_then_counts() -> None:
    base = sample_digest()
    item = dataclasses.replace(base.top[0], also_covered_by=tuple(f"Wire {c}" for c in "ABCDEFG"))
    digest = dataclasses.replace(base, top=(item, *base.top[1:]))
    text = render_digest(digest).text
    assert "Also covered by Wire A, Wire B, Wire C and 4 others" in " ".join(text.split())


def test_feeds_with_every_story_left_out_share_one_line() -> None:
    base = sample_digest()
    others = DigestSection(title="", items=(), more=2400, other_feeds=940)
    text = render_digest(dataclasses.replace(base, sections=(*base.sections, others))).text
    assert "OTHER FEEDS" in text and "and 2400 more from 940 feeds" in text
    headings = [line for line in text.splitlines() if line == "-" * 72]
    assert len(headings) == len(base.sections) + (1 if base.top else 0) + 1
