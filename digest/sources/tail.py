"""Where an article's text ends on its page: trailing lines outside the body's container.

Extractors take the article and often what follows it too: the author box, the newsletter
sign-up, the related articles, the "about us" box, a consent notice. On the page these are
siblings of the element that holds the body, not part of it. :func:`trim_tail` maps each
line of an extracted text back to the block of the page it came from, finds the deepest
element that holds most of the text (the body's container) and drops the lines at the end
that lie outside it. It reads structure only (which element holds which line), no words,
so it does not depend on the site or the language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: Share of the text's matched characters that the body's container must hold. The deepest
#: element holding at least this much is the container. Chosen by leave-site-out
#: cross-validation over both DEV sets (bench/extract_quality.py) among 0.6-0.9: 344 of
#: 345 held-out sites picked 0.7.
BODY_SHARE = 0.7

#: At most this share of the text is cut: a longer tail outside the container is more
#: likely a body the page splits across containers than furniture. Chosen with BODY_SHARE,
#: among 0.2, 0.3 and 0.5.
MAX_CUT = 0.3

#: Tags whose boundaries start a new line of text, as extractors write them.
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5"  # noqa: SIM905
    " h6 header hr li main nav ol p pre section table tbody td th thead tr ul".split()
)
_SKIPPED = frozenset(("script", "style", "noscript", "template", "svg", "head"))
_WORD = re.compile(r"\w+")

#: Word key of a run of text -> the element it sits in (None: more than one element).
Blocks = dict[str, Any]


def _key(text: str) -> str:
    # Words only: extractors differ in bullets, table pipes, spacing and punctuation.
    return " ".join(_WORD.findall(text.lower()))


def _runs(root: Any) -> Iterator[tuple[Any, str]]:
    """(element, text) for every run of text between block boundaries, with the innermost
    block element it sits in. Iterative: broken pages nest deeper than Python recurses."""
    owners = [root]
    parts: list[str] = []

    def flush() -> Iterator[tuple[Any, str]]:
        if parts:
            text = "".join(parts)
            parts.clear()
            if text.strip():
                yield owners[-1], text

    # Each stack entry is an element to open, or ("close", element, is_block).
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            _, el, block = item
            if block:
                yield from flush()
                owners.pop()
            if el.tail:
                parts.append(el.tail)
            continue
        tag = item.tag
        if not isinstance(tag, str):  # a comment or processing instruction: its tail is text
            if item.tail:
                parts.append(item.tail)
            continue
        name = tag.rpartition("}")[2].lower()
        if name in _SKIPPED:
            if item.tail:
                parts.append(item.tail)
            continue
        block = name in _BLOCK_TAGS
        if block:
            yield from flush()
            owners.append(item)
        if item.text:
            parts.append(item.text)
        stack.append(("close", item, block))
        stack.extend(reversed(item))
    yield from flush()


def page_blocks(tree: Any) -> Blocks:
    """Every run of text on the page by its word key, with the element it sits in."""
    blocks: Blocks = {}
    for el, text in _runs(tree):
        key = _key(text)
        if key:
            blocks[key] = None if key in blocks and blocks[key] is not el else el
    return blocks


def trim_tail(
    text: str, blocks: Blocks, share: float = BODY_SHARE, max_cut: float = MAX_CUT
) -> str:
    """``text`` without its last lines when they lie outside the body's container.

    Lines are found on the page by their words (``blocks``, from :func:`page_blocks`); a
    line found in no block or in several is unknown, and goes with the known lines around
    it. The container is the deepest element holding at least ``share`` of the characters
    of the lines found. The cut stops at the last line inside the container; it is made
    only when it leaves at least ``1 - max_cut`` of the text.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        return text
    keys = [_key(line) for line in lines]
    found = [blocks.get(key) if key else None for key in keys]
    sizes = [len(key) for key in keys]
    held: dict[Any, int] = {}
    depth: dict[Any, int] = {}
    for size, el in zip(sizes, found, strict=True):
        if el is None:
            continue
        path = [el, *el.iterancestors()]
        for level, node in enumerate(reversed(path)):
            held[node] = held.get(node, 0) + size
            depth[node] = level
    if not held:
        return text
    total = sum(size for size, el in zip(sizes, found, strict=True) if el is not None)
    container = max(
        (n for n, chars in held.items() if chars >= share * total),
        key=lambda n: depth[n],
        default=None,  # share above 1: no element holds that much, nothing is cut
    )
    if container is None:
        return text
    cut = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        el = found[index]
        if el is None:
            continue
        if el is container or any(a is container for a in el.iterancestors()):
            break
        cut = index
    if cut == len(lines) or sum(sizes[cut:]) > max_cut * sum(sizes):
        return text
    return "\n".join(lines[:cut])
