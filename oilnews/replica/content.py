"""Deterministic article catalogue for the replica: article i is the same on every run.

Article indexes grow with time (0 is the oldest), so serving N+20 articles "publishes"
20 new ones without changing the first N; `edited` indexes get a revised body.
"""

from __future__ import annotations

import random
import re
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache

from oilnews.site import DEFAULT_SECTIONS

DEFAULT_EPOCH = datetime(2023, 1, 2, 6, 0, tzinfo=UTC)
STEP = timedelta(minutes=17)

_PLACES = (
    "Saudi Arabia",
    "Norway",
    "Kazakhstan",
    "Nigeria",
    "Brazil",
    "Canada",
    "Guyana",
    "Iraq",
    "Libya",
    "Angola",
    "Mexico",
    "Venezuela",
    "Qatar",
    "Oman",
    "India",
    "China",
    "Japan",
    "Germany",
    "Poland",
    "Egypt",
    "Algeria",
    "Indonesia",
    "Malaysia",
    "Argentina",
    "Colombia",
    "Texas",
    "Alaska",
    "the North Sea",
    "the Permian",
    "Mozambique",
    "Namibia",
    "Suriname",
    "Turkey",
    "Azerbaijan",
    "Israel",
    "Cyprus",
    "Kuwait",
    "Iran",
    "Russia",
    "Ukraine",
)
_ACTIONS = (
    "Boosts",
    "Cuts",
    "Doubles",
    "Halts",
    "Resumes",
    "Expands",
    "Rethinks",
    "Targets",
    "Slashes",
    "Eyes",
    "Approves",
    "Delays",
    "Weighs",
    "Signs",
    "Scraps",
    "Fast-Tracks",
    "Ramps Up",
    "Caps",
    "Taxes",
    "Reopens",
    "Freezes",
    "Tenders",
    "Courts",
    "Bans",
    "Subsidizes",
    "Audits",
    "Finances",
    "Rejects",
    "Backs",
    "Restarts",
)
_OBJECTS = (
    "Crude Exports",
    "LNG Output",
    "Refinery Runs",
    "Offshore Drilling",
    "Gas Imports",
    "Pipeline Plans",
    "Solar Auctions",
    "Wind Leases",
    "Oil Royalties",
    "Coal Power",
    "Nuclear Builds",
    "Fuel Subsidies",
    "Shale Permits",
    "Tanker Fleet",
    "Storage Sites",
    "Diesel Sales",
    "Hydrogen Hubs",
    "Grid Upgrades",
    "Lithium Mining",
    "Copper Deals",
    "Carbon Capture",
    "Gas Flaring",
    "Rig Count",
    "Oil Reserves",
    "Power Prices",
    "Battery Plants",
    "Jet Fuel Demand",
    "Biofuel Mandates",
    "Condensate Sales",
    "Upstream Spending",
    "Crude Swaps",
    "Export Quotas",
    "Field Auctions",
    "Rail Shipments",
    "Spot Cargoes",
    "Term Contracts",
    "Emission Rules",
    "Helium Output",
    "Uranium Supply",
    "Methane Rules",
)
_ANGLES = ("", "Amid Price Slump", "As Demand Wavers", "Despite Sanctions", "After Record Quarter")
PERSONS = (
    "Irina Slav",
    "Tsvetana Paraskova",
    "Charles Kennedy",
    "Michael Kern",
    "Julianne Geiger",
    "Alex Kimani",
    "Haley Zaremba",
    "Felicity Bradstock",
)
OUTLETS = ("Eurasianet.org", "Rystad Energy")
_SENTENCES = (
    "{place} {verb} its plans for {obj}, officials said on {day}.",
    "Analysts at several banks expect {obj} to shift by {pct}% over the next {months} months.",
    "The move follows a {pct}% change in {obj} reported by the energy ministry last quarter.",
    "Traders said the decision on {obj} could tighten supply in {place} markets.",
    "Output reached {volume} barrels per day in {month_name}, according to industry data.",
    "The government in {place} has said it wants to keep {obj} under review.",
    "Companies operating in {place} welcomed the decision on {obj}.",
    "Critics argue that {obj} will do little to lower prices for consumers.",
    "Shipping data showed {volume} tons moving through the main terminal in {month_name}.",
    "Investors have been watching {obj} closely since the start of the year.",
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
# Byte sequences of UTF-8 apostrophes read as cp1252, as in the 2011 archive.
MOJIBAKE_APOSTROPHE = "\u00e2\u20ac\u2122"
_INDEX_LOCK = threading.Lock()
TWIN_REMAINDER = 21  # every 50th article is also served under a second URL (same content)


def twin_path(slug: str) -> str:
    return f"/Company-News/{slug}-Company-Update.html"


def slugify(title: str) -> str:
    """As the site does: apostrophes and non-ASCII letters dropped, words joined by '-'."""
    ascii_only = title.replace("'", "").replace("\u2019", "").encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_only).strip("-")


@dataclass(frozen=True)
class ReplicaArticle:
    index: int
    section: str
    title: str
    author: str
    published: datetime
    modified: datetime
    paragraphs: tuple[str, ...]
    keywords: tuple[str, ...]
    summary: tuple[str, ...] = ()
    premium: bool = False
    legacy: bool = False  # 2011-style: mojibake body, no news_keywords
    script_built: bool = False
    twin_path: str | None = None
    related_inline: int | None = None

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.slug}.html"

    @property
    def has_picture(self) -> bool:
        """One page in five has no picture of its own: the site's share logo stands in."""
        return self.index % 5 != 2

    @property
    def is_outlet(self) -> bool:
        return self.author in OUTLETS

    @property
    def body_container_id(self) -> str:
        return "news-content" if self.section.startswith("Latest-Energy-News") else "article-content"


@dataclass
class Catalogue:
    """The replica's whole site: `size` articles, some of them edited."""

    size: int
    edited: frozenset[int] = frozenset()
    edited_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    epoch: datetime = DEFAULT_EPOCH
    step: timedelta = STEP  # between two articles' publication (a long step spreads them over months)
    sections: tuple[str, ...] = DEFAULT_SECTIONS
    seed: int = 0
    # Browser-only pages (0: none): article i is built by script when i % js_every == 3,
    # and hidden behind a JavaScript cookie challenge when i % js_every == 5.
    js_every: int = 0
    _by_path: dict[str, int] = field(default_factory=dict, repr=False)

    def published(self, index: int) -> datetime:
        return self.epoch + index * self.step

    @cached_property
    def section_members(self) -> dict[str, list[int]]:
        """Indexes per section, newest first (the listing order)."""
        members: dict[str, list[int]] = {s: [] for s in self.sections}
        for index in range(self.size - 1, -1, -1):
            members[self.section_of(index)].append(index)
        return members

    def section_of(self, index: int) -> str:
        # World News carries a third of the items, as on the real site; the rest spread evenly.
        if index % 3 == 0 or len(self.sections) == 1:
            return self.sections[0]
        return self.sections[1 + zlib.crc32(index.to_bytes(4, "big")) % (len(self.sections) - 1)]

    def cited(self, index: int) -> int | None:
        """An older article that article `index` links to in its body: fixed as the site grows."""
        return (
            None
            if index == 0
            else index - 1 - zlib.crc32(b"cite" + index.to_bytes(4, "big")) % min(index, 40)
        )

    def path(self, index: int) -> str:
        """Article `index`'s path, from arithmetic alone (no article is built)."""
        return f"/{self.section_of(index)}/{slugify(_title(index))}.html"

    def modified(self, index: int) -> datetime:
        return modified_at(index, self.published(index), self.edited_at if index in self.edited else None)

    def script_built(self, index: int) -> bool:
        return bool(self.js_every) and index % self.js_every == 3

    def challenged(self, index: int) -> bool:
        return bool(self.js_every) and index % self.js_every == 5

    def article(self, index: int) -> ReplicaArticle:
        return _build_article(
            index,
            self.section_of(index),
            self.published(index),
            self.edited_at if index in self.edited else None,
            self.seed,
            self.script_built(index),
        )

    def lookup(self, path: str) -> ReplicaArticle | None:
        with _INDEX_LOCK:  # request threads arrive together; none may see a half-built index
            self._build_path_index()
        found = self._by_path.get(path)
        return None if found is None else self.article(found)

    def _build_path_index(self) -> None:
        if not self._by_path:
            # Titles are cheap arithmetic of the index: map paths without building articles.
            for index in range(self.size):
                self._by_path[self.path(index)] = index
                if index % 50 == TWIN_REMAINDER:
                    self._by_path[twin_path(slugify(_title(index)))] = index

    @cached_property
    def section_position(self) -> dict[int, int]:
        return {index: pos for members in self.section_members.values() for pos, index in enumerate(members)}

    def newest(self, count: int) -> list[ReplicaArticle]:
        return [self.article(i) for i in range(self.size - 1, max(-1, self.size - 1 - count), -1)]

    def neighbours(self, index: int, count: int, salt: int) -> list[ReplicaArticle]:
        """Deterministic 'related' picks among the other articles."""
        picks: list[int] = []
        for k in range(1, 64):
            candidate = (index + salt * 17 + k * k * 7 + k) % self.size
            if candidate != index and candidate not in picks:
                picks.append(candidate)
                if len(picks) == count:
                    break
        return [self.article(i) for i in picks]


def _title(index: int) -> str:
    # A bijective scramble of the index into word choices: titles (and slugs) never repeat.
    combos = len(_PLACES) * len(_ACTIONS) * len(_OBJECTS) * len(_ANGLES)
    code = (index * 7_368_787) % combos
    code, angle = divmod(code, len(_ANGLES))
    code, obj = divmod(code, len(_OBJECTS))
    place, action = divmod(code, len(_ACTIONS))
    title = f"{_PLACES[place % len(_PLACES)]} {_ACTIONS[action]} {_OBJECTS[obj]}"
    title = title[0].upper() + title[1:]
    return f"{title} {_ANGLES[angle]}".strip()


def modified_at(index: int, published: datetime, edited: datetime | None) -> datetime:
    """dateModified: minutes before publication (scheduled posts, as on the site), or the
    moment of the edit. Cheap on its own, so sitemaps need not build whole articles."""
    if edited is not None:
        return max(edited, published)
    return published - timedelta(minutes=5 + zlib.crc32(b"mod" + index.to_bytes(4, "big")) % 86)


@lru_cache(maxsize=4096)
def _build_article(
    index: int,
    section: str,
    published: datetime,
    edited: datetime | None,
    seed: int,
    script_built: bool = False,
) -> ReplicaArticle:
    """Article `index`; `edited` is when its revision went live (None: never revised)."""
    rng = random.Random(seed * 1_000_003 + index)
    title = _title(index)
    premium = index % 10 == 4 and not section.startswith("Latest-Energy-News")
    author = (
        OUTLETS[index % len(OUTLETS)] if premium and index % 20 == 4 else PERSONS[rng.randrange(len(PERSONS))]
    )
    legacy = index % 97 == 13
    words = {
        "place": title.split(" ")[0] if not title.startswith("The") else "The region",
        "obj": title.lower(),
        "day": _DAYS[rng.randrange(5)],
        "month_name": _MONTHS[published.month - 1],
    }
    paragraphs: list[str] = []
    for _ in range(rng.randint(4, 9)):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            template = _SENTENCES[rng.randrange(len(_SENTENCES))]
            sentences.append(
                template.format(
                    verb=rng.choice(("reviewed", "confirmed", "revised", "announced")),
                    pct=rng.randint(2, 40),
                    months=rng.randint(3, 18),
                    volume=f"{rng.randint(100, 2000) * 1000:,}",
                    **words,
                )
            )
        paragraphs.append(" ".join(sentences))
    paragraphs[0] = f"{title}: {paragraphs[0]}"
    if legacy:
        paragraphs = [p.replace("its plans", f"the country{MOJIBAKE_APOSTROPHE}s plans") for p in paragraphs]
        paragraphs[0] = (
            f"Western interest in the region{MOJIBAKE_APOSTROPHE}s energy reserves is intensifying. "
            + paragraphs[0]
        )
    # Words only the last paragraph has, so a revision that replaces it removes words too.
    paragraphs[-1] += " Preliminary figures were compiled by the statistics bureau."
    if edited is not None:
        # The revision replaces the last paragraph: words are added and words are removed.
        paragraphs[-1] = f"Update: this story was revised to add comment from officials in {words['place']}."
    summary: tuple[str, ...] = ()
    if premium:
        summary = tuple(
            f"{s}."
            for s in (
                f"{words['place']} is reconsidering {words['obj']}",
                f"Analysts see a {rng.randint(5, 30)}% swing in regional supply",
                "Local markets are bracing for higher prices",
            )
        )
    keywords = (
        ()
        if legacy
        else tuple(
            dict.fromkeys(
                (
                    words["place"],
                    title.split(" ")[-2] if len(title.split(" ")) > 2 else "energy",
                    section.split("/")[-1].replace("-", " "),
                    "oil markets",
                )
            )
        )
    )
    modified = modified_at(index, published, edited)
    return ReplicaArticle(
        index=index,
        section=section,
        title=title,
        author=author,
        published=published,
        modified=modified,
        paragraphs=tuple(paragraphs),
        keywords=keywords,
        summary=summary,
        premium=premium,
        legacy=legacy,
        twin_path=twin_path(slugify(title)) if index % 50 == TWIN_REMAINDER else None,
        related_inline=index - 1 if premium and index > 0 else None,
        script_built=script_built,
    )
