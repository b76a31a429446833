"""Table rows in the extracted text: kept whole, not cleaned as prose."""

from __future__ import annotations

from digest.sources.extract import finish_text


def test_table_rows_keep_their_repeated_cells_and_lose_empty_and_repeated_rows() -> None:
    raw = "\n".join(
        [
            "The cheapest cities this year, by median rent.",
            "| Rank | City | Rent |",
            "|---|---|---|",
            "| 1. | Springfield | $900 |",
            "| 2. | Shelbyville | $950 |",
            "| 2. | Shelbyville | $950 |",
            "|  |  |  |",
            "| 3. | Ogdenville | Yes. |",
            "| 4. | North Haverbrook | Yes. |",
            "Rents rose everywhere else.",
            "The cheapest cities this year, by median rent.",
        ]
    )
    text = finish_text(raw, None)
    lines = text.split("\n\n")
    assert lines == [
        "The cheapest cities this year, by median rent.",
        "| Rank | City | Rent |",
        "| 1. | Springfield | $900 |",
        "| 2. | Shelbyville | $950 |",
        "| 3. | Ogdenville | Yes. |",
        "| 4. | North Haverbrook | Yes. |",
        "Rents rose everywhere else.",
        "The cheapest cities this year, by median rent.",
    ]
