"""Subscription lists in OPML: read (listparser), write and edit (stdlib), for `digest feeds`.

The file that config key ``feeds_file`` names holds the subscriptions `digest feeds` edits,
so config.yaml (and its comments) is never rewritten. Feeds are ``<outline type="rss">``
elements, grouped by category in folder outlines (``<outline text="World">``), which is
what feed readers export and import. Edits keep everything else in the file (other
attributes, comments, unknown outlines) and are written atomically (temp file, then
``os.replace``), so a crash never leaves half a file.
"""

from __future__ import annotations

import email.utils
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import listparser

from digest.errors import ConfigError, DigestError
from digest.models import FeedSource, utc_now

_HTTP = re.compile(r"^https?://[^\s/?#]+", re.IGNORECASE)


class FeedsFileError(DigestError):
    """An edit of the feeds file cannot be done (duplicate, unknown name, bad URL)."""


def parse_opml(data: bytes) -> list[FeedSource]:
    """Every http(s) feed in OPML bytes, with its title and innermost folder as category."""
    result = listparser.parse(data)
    sources: list[FeedSource] = []
    for feed in result.feeds:
        url = str(feed.url or "").strip()
        if not _HTTP.match(url):
            continue
        # listparser lists category="" attributes first and the enclosing folders last;
        # the folder a reader shows the feed in is the innermost enclosing one.
        categories = [c for c in feed.categories if c and c[-1]]
        title = str(feed.title or "").strip()
        sources.append(
            FeedSource(
                url=url,
                # OPML needs a text; we write the URL when a feed has no name of its own.
                name=title if title and title != url else None,
                category=categories[-1][-1] if categories else None,
            )
        )
    return sources


def read_opml(path: Path) -> list[FeedSource]:
    """Every http(s) feed in the feeds file; ConfigError (key ``feeds_file``) when it cannot
    be read or is not a complete OPML document.

    listparser reads what it can of a damaged file; for the subscriptions digest builds from,
    a truncated file silently losing its last feeds is worse than a clear error.
    """
    if path.is_dir():
        raise ConfigError(f"feeds_file: {path} is a folder; name an OPML file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"feeds_file: cannot read {path} ({exc.strerror})") from None
    _check_opml(path, data)
    return parse_opml(data)


def _check_opml(path: Path, data: bytes) -> None:
    """ConfigError unless ``data`` is well-formed XML with an ``<opml>`` root."""
    parser = ET.XMLParser()
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        problem = "it is empty" if not data.strip() else f"line {line}, column {column + 1}"
        raise ConfigError(
            f"feeds_file: {path} is not valid OPML ({problem}: "
            f"{str(exc).split(':')[0]}); fix it, restore a backup or remove feeds_file"
        ) from None
    if root.tag.lower() != "opml":
        raise ConfigError(
            f"feeds_file: {path} is not an OPML file (its root element is <{root.tag}>); "
            "point feeds_file at an OPML subscription list"
        )


# --- writing --------------------------------------------------------------------------


def _outline(source: FeedSource) -> ET.Element:
    assert source.url is not None
    name = source.name or source.url
    return ET.Element("outline", {"type": "rss", "text": name, "title": name, "xmlUrl": source.url})


def opml_document(sources: Iterable[FeedSource], *, title: str = "digest feeds") -> bytes:
    """OPML 2.0 bytes for the http(s) ``sources`` (local ``path:`` feeds are left out)."""
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(utc_now(), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for source in sources:
        if source.url is None:
            continue
        parent = body
        if source.category:
            parent = folders.get(source.category) or ET.SubElement(
                body, "outline", {"text": source.category, "title": source.category}
            )
            folders[source.category] = parent
        parent.append(_outline(source))
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (same folder temp file, fsync, rename).

    Raises FeedsFileError naming the file when its folder cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        from digest.writable import file_problem

        reason = file_problem(path) or exc.strerror or str(exc)
        raise FeedsFileError(
            f"cannot write {path}: {reason}; make its folder writable for this user or "
            "point feeds_file at a file in a folder that is"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise FeedsFileError(
                f"cannot write {path} ({exc.strerror or exc}); the file is unchanged"
            ) from None
        raise


def write_opml(path: Path, sources: Sequence[FeedSource], *, title: str = "digest feeds") -> None:
    """Write ``sources`` as a new OPML file at ``path`` (atomically)."""
    write_atomically(path, opml_document(sources, title=title))


# --- editing the feeds file -------------------------------------------------------------


@dataclass
class FeedsFile:
    """The feeds file as an editable XML tree (comments and unknown attributes kept)."""

    path: Path
    root: ET.Element = field(repr=False)
    # Comments before the <opml> element: ElementTree keeps only the root's subtree.
    prolog: str = ""

    @classmethod
    def load(cls, path: Path) -> FeedsFile:
        """Open ``path``; a missing file starts as an empty OPML document."""
        if not path.exists():
            return cls(path, ET.fromstring(opml_document([])))
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        try:
            data = path.read_bytes()
            parser.feed(data)
            root = parser.close()
        except ET.ParseError as exc:
            raise ConfigError(
                f"feeds_file: {path} is not valid OPML ({exc}); fix it or move it away"
            ) from None
        except OSError as exc:
            raise ConfigError(f"feeds_file: cannot read {path} ({exc.strerror})") from None
        if root is None or root.tag != "opml":
            raise ConfigError(f"feeds_file: {path} is not an OPML file (no <opml> root)")
        return cls(path, root, _prolog(data))

    @property
    def body(self) -> ET.Element:
        body = self.root.find("body")
        if body is None:
            body = ET.SubElement(self.root, "body")
        return body

    def _feed_outlines(self) -> list[tuple[ET.Element, ET.Element]]:
        """(parent, outline) for every outline with an xmlUrl, in document order."""
        found = []
        stack = [self.body]
        while stack:
            parent = stack.pop()
            for child in parent:
                if child.tag != "outline":
                    continue
                if child.get("xmlUrl"):
                    found.append((parent, child))
                else:
                    stack.append(child)
        return found

    def sources(self) -> list[FeedSource]:
        """The file's feeds as :func:`parse_opml` reads them."""
        return parse_opml(_serialise(self.root))

    def add(self, source: FeedSource) -> None:
        """Append a feed, inside its category's folder (created when missing)."""
        parent = self.body
        if source.category:
            for child in self.body:
                if (
                    child.tag == "outline"
                    and not child.get("xmlUrl")
                    and (child.get("text") or child.get("title")) == source.category
                ):
                    parent = child
                    break
            else:
                parent = ET.SubElement(
                    self.body, "outline", {"text": source.category, "title": source.category}
                )
        parent.append(_outline(source))

    def remove(self, name_or_url: str) -> FeedSource:
        """Remove the one feed whose URL or name (case-insensitive) is ``name_or_url``."""
        from digest.sources.identity import canonical_url

        wanted = name_or_url.strip()
        outlines = self._feed_outlines()
        by_url = [
            (p, o)
            for p, o in outlines
            if _HTTP.match(wanted) and canonical_url(o.get("xmlUrl", "")) == canonical_url(wanted)
        ]
        by_name = [
            (p, o)
            for p, o in outlines
            if wanted.casefold()
            in {(o.get("text") or "").casefold(), (o.get("title") or "").casefold()}
        ]
        matches = by_url or by_name
        if not matches:
            raise FeedsFileError(
                f"no feed named {wanted!r} in {self.path}; see `digest feeds list` for names"
            )
        if len(matches) > 1:
            raise FeedsFileError(
                f"{len(matches)} feeds are named {wanted!r}; remove one by its URL instead"
            )
        parent, outline = matches[0]
        parent.remove(outline)
        # An emptied category folder would show up as an empty group in feed readers.
        if parent is not self.body and len(parent) == 0:
            for grand in self.body.iter("outline"):
                if parent in list(grand):
                    grand.remove(parent)
                    break
            else:
                if parent in list(self.body):
                    self.body.remove(parent)
        name = outline.get("title") or outline.get("text") or None
        return FeedSource(url=outline.get("xmlUrl"), name=name)

    def save(self) -> None:
        """Write the file atomically."""
        data = _serialise(self.root)
        if self.prolog:
            declaration, rest = data.split(b"\n", 1)
            data = declaration + b"\n" + self.prolog.encode() + b"\n" + rest
        write_atomically(self.path, data)


def _prolog(data: bytes) -> str:
    """The comments between the XML declaration and ``<opml``, when plain UTF-8."""
    start = data.find(b"<opml")
    if start <= 0:
        return ""
    try:
        head = data[:start].decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""
    head = re.sub(r"^\s*<\?xml[^>]*\?>", "", head).strip()
    return head if re.fullmatch(r"(<!--.*?-->\s*)*", head, re.DOTALL) else ""


def _known(sources: Iterable[FeedSource]) -> set[str]:
    from digest.sources.identity import canonical_url

    return {canonical_url(s.url) for s in sources if s.url}


def add_feed(feeds_file: Path, source: FeedSource, *, existing: Sequence[FeedSource] = ()) -> None:
    """Append ``source`` to the feeds file (created when missing); FeedsFileError when the
    URL is not http(s) or already subscribed (in the file or in ``existing``)."""
    from digest.sources.identity import canonical_url

    if source.url is None or not _HTTP.match(source.url):
        raise FeedsFileError(
            f"expected an http:// or https:// feed URL, found {source.url!r} "
            "(local files go under feeds: with path: in config.yaml)"
        )
    document = FeedsFile.load(feeds_file)
    if canonical_url(source.url) in _known([*existing, *document.sources()]):
        raise FeedsFileError(f"already subscribed to {source.url}; nothing to add")
    document.add(source)
    document.save()


def remove_feed(
    feeds_file: Path, name_or_url: str, *, config_feeds: Sequence[FeedSource] = ()
) -> FeedSource:
    """Remove one feed from the feeds file by name or URL and return it."""
    if not feeds_file.exists():
        raise FeedsFileError(f"{feeds_file} does not exist yet; nothing to remove")
    document = FeedsFile.load(feeds_file)
    try:
        removed = document.remove(name_or_url)
    except FeedsFileError:
        wanted = name_or_url.strip().casefold()
        if any(
            wanted in {(s.name or "").casefold(), (s.url or "").casefold()} for s in config_feeds
        ):
            raise FeedsFileError(
                f"{name_or_url!r} is listed under feeds: in config.yaml; remove it there "
                "(digest never rewrites config.yaml)"
            ) from None
        raise
    document.save()
    return removed


@dataclass(frozen=True)
class ImportReport:
    added: int
    duplicates: int
    not_http: int


def import_feeds(
    feeds_file: Path, opml: Path, *, existing: Sequence[FeedSource] = ()
) -> ImportReport:
    """Merge the feeds of another OPML file into the feeds file, skipping duplicates."""
    try:
        data = opml.read_bytes()
    except OSError as exc:
        raise FeedsFileError(f"cannot read {opml} ({exc.strerror})") from None
    parsed = listparser.parse(data)
    if not parsed.feeds and (parsed.bozo or not parsed.version):
        raise FeedsFileError(f"{opml} is not an OPML subscription list; nothing imported")
    incoming = parse_opml(data)
    not_http = len(parsed.feeds) - len(incoming)
    document = FeedsFile.load(feeds_file)
    from digest.sources.identity import canonical_url

    known = _known([*existing, *document.sources()])
    added = duplicates = 0
    for source in incoming:
        assert source.url is not None
        key = canonical_url(source.url)
        if key in known:
            duplicates += 1
            continue
        known.add(key)
        document.add(source)
        added += 1
    if added:
        document.save()
    return ImportReport(added=added, duplicates=duplicates, not_http=not_http)
