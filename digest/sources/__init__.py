"""Getting text in: the HTTP layer, feed fetching and parsing, article pages, OPML."""
