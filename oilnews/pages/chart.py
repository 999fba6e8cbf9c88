"""The rendered price chart page -> PriceQuoteItems (the blend history the site draws by script)."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.http import TextResponse

from oilnews.items import PriceQuoteItem
from oilnews.pages.common import Page, element_text
from oilnews.pages.ticker import parse_number


def parse_chart(response: TextResponse) -> list[PriceQuoteItem]:
    page = Page.of(response)
    quotes: list[PriceQuoteItem] = []
    for row in page.xpath("//table[@id='chart-data']//tr[@data-blend-id and @data-time]"):
        blend_id, stamp = str(row.get("data-blend-id")), str(row.get("data-time"))
        cells = {str(td.get("class") or ""): element_text(td) for td in row.iter("td")}
        price = parse_number(cells.get("price"))
        if not blend_id.isdigit() or not stamp.isdigit() or price is None:
            continue
        quotes.append(
            PriceQuoteItem(
                blend_id=int(blend_id),
                name=cells.get("blend_name", ""),
                price=price,
                observed_at=datetime.fromtimestamp(int(stamp), UTC),
                source="chart",
            )
        )
    return quotes
