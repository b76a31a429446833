"""Text handling: HTML to text and clean-up, language resources, summaries."""
