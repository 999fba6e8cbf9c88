"""The server-rendered oil price ticker (`div.header_charts`) -> PriceQuoteItems."""

from __future__ import annotations

import re
from datetime import datetime

from scrapy.http import TextResponse

from oilnews.dates import parse_age
from oilnews.items import PriceQuoteItem
from oilnews.text import clean_line

_NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*")


def parse_number(text: str | None) -> float | None:
    match = _NUMBER.search(text or "")
    return float(match.group(0).replace(",", "")) if match else None


def parse_ticker(response: TextResponse, fetched_at: datetime) -> list[PriceQuoteItem]:
    """One quote per blend: the ticker repeats blends across its tabs."""
    quotes: dict[int, PriceQuoteItem] = {}
    for row in response.css("div.header_charts tr.link_oilprice_row"):
        blend_id = row.attrib.get("data-id", "")
        if not blend_id.isdigit() or int(blend_id) in quotes:
            continue
        name = clean_line(row.css("td.blend_name::text").get())
        price = parse_number(row.css("td.value::text").get())
        if not name or price is None:
            continue
        quotes[int(blend_id)] = PriceQuoteItem(
            blend_id=int(blend_id),
            name=name,
            price=price,
            change=parse_number(row.css("td.change_amount::text").get()),
            change_percent=parse_number(row.css("td.change_percent::text").get()),
            observed_at=parse_age(row.css("span.last_updated::text").get(), fetched_at) or fetched_at,
        )
    return list(quotes.values())
