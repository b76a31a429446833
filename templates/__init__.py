"""Built-in Jinja templates of digest (shipped as package data)."""
