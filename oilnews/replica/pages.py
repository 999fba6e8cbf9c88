"""HTML and XML of the replica, in oilprice.com's real markup (class names, nesting, quirks).

Built from the structure of the saved pages in ../shared/oilprice-pages (see
../shared/oilprice-markup.md): nested DOCTYPE inside the body container, the freestar ad
div, signature line, "More Top Reads" list with relative links, lazy images, JSON-LD with
entity-encoded articleBody, the server-rendered ticker, listing pagination.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import escape
from math import ceil

from oilnews.dates import SITE_TZ
from oilnews.replica.content import Catalogue, ReplicaArticle
from oilnews.site import CHART_PATH, RSS_PATH, listing_path

PER_PAGE = 20
BLENDS = (
    (45, "WTI Crude", 63.97),
    (46, "Brent Crude", 66.64),
    (4464, "Murban Crude", 68.98),
    (51, "Natural Gas", 2.952),
    (53, "Gasoline", 2.078),
    (76, "Louisiana Light", 66.80),
    (29, "Opec Basket", 68.91),
    (257, "Western Canadian Select", 51.53),
)
ROBOTS_TXT = "User-agent: *\nDisallow: /account/\nDisallow: /ajax/\nDisallow: /forum/\n"


def _local(moment: datetime) -> tuple[datetime, str]:
    """Site-local (US Central) wall time and its zone abbreviation, CDT or CST."""
    local = moment.astimezone(SITE_TZ)
    return local.replace(tzinfo=None), local.tzname() or "CST"


def _iso_local(moment: datetime) -> str:
    return moment.astimezone(SITE_TZ).isoformat(timespec="seconds")


def _byline_date(moment: datetime) -> str:
    local, name = _local(moment)
    return f"{local.strftime('%b %d, %Y')}, {local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {name}"


def _listing_date(moment: datetime) -> str:
    local, _ = _local(moment)
    return local.strftime("%b %d, %Y at %H:%M")


def ticker(now: datetime) -> str:
    rows = []
    for number, (blend_id, name, price) in enumerate(BLENDS):
        change = round(((blend_id * 37 + now.hour) % 21 - 10) / 100, 2)
        direction = "change_up" if change >= 0 else "change_down"
        age = f"{5 + number} mins" if number < 5 else f"{number} days"
        rows.append(
            f'<tr class="{direction} link_oilprice_row" data-hash="{escape(name.replace(" ", "-"))}" '
            f'data-id="{blend_id}" data-periods="2,3,4,5,7" data-spread="{escape(name)}">'
            f'<td class="mobile_graph"><img class="graph_up lozad opacity_0" alt="Graph up" data-src="/a/img/chart_green.svg"></td>'
            f'<td class="blend_name">{escape(name)} <span class="dot">&bull;</span><span class="last_updated">{age}</span> </td>'
            f'<td class="empty_buy_sell"></td><td class="value">{price + change:.2f} <i class="fa fa-caret-up"></i></td>'
            f'<td class="change_amount">{change:+.2f}</td><td class="change_percent">{change / price * 100:+.2f}%</td></tr>'
        )
    table = "".join(rows)
    # Blends repeat across the ticker's tabs, as on the site.
    return (
        '<div class="header_charts"><div class="blends_block" data-id="1"><div class="left_column"><table>'
        f'{table}</table></div></div><div class="blends_block" data-id="4"><div class="right_column"><table>'
        f"{table}</table></div></div></div>"
    )


def _head(title: str, canonical: str, extra: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | OilPrice.com</title>"
        f'<link rel="canonical" href="{escape(canonical)}" />{extra}'
        f'<link rel="alternate" type="application/rss+xml" href="{RSS_PATH}"></head>'
    )


def _site_header(cat: Catalogue, base: str, now: datetime) -> str:
    newest = cat.newest(3)
    other = "".join(
        f'<a href="{base}{a.path}" class="articleOtherNews__article"><h3 class="articleOtherNews__title">{escape(a.title)}</h3></a>'
        for a in newest[1:3]
    )
    breaking = (
        f'<div class="breakingNews"><p class="breakingNews__headline"><a href="{base}{newest[0].path}" '
        f'data-embargo="{int(newest[0].published.timestamp())}">{escape(newest[0].title)}</a></p></div>'
        if newest
        else ""
    )
    return (
        f'<header><a href="{base}/" class="logo">OilPrice.com</a>{ticker(now)}</header>'
        f'<div class="articleOtherNews">{other}</div>{breaking}'
    )


def _footer(base: str) -> str:
    return (
        f'<footer><a href="{base}/rss/main">RSS</a> <a href="https://feeds.feedburner.com/oilpricecom">Feedburner</a> '
        f'<a href="{base}/contact">Contact</a> <a href="javascript:void(0)">Top</a> '
        f'<a href="mailto:support@oilprice.com">Email</a></footer></body></html>'
    )


def _json_ld(article: ReplicaArticle, url: str, body_text: str) -> str:
    author_type = "Organization" if article.is_outlet else "Person"
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "url": url,
        "datePublished": _iso_local(article.published),
        "dateModified": _iso_local(article.modified),
        "dateCreated": _iso_local(article.published),
        "wordCount": str(len(body_text.split())),
        "inLanguage": "en-US",
        "name": article.title.replace("\u2019", "'"),
        "headline": article.title.replace("\u2019", "'"),
        "mainEntityOfPage": url,
        "articleBody": escape(body_text).replace("&#x27;", "&rsquo;"),
        "image": [
            f"https://d32r1sh890xpii.cloudfront.net/article/1200x900/{article.published:%Y-%m-%d}_{article.index:08d}.jpg"
        ]
        if article.has_picture
        else [],
        "author": [
            {
                "@type": author_type,
                "url": f"https://oilprice.com/contributors/{article.author.replace(' ', '-')}",
                "name": article.author,
            }
        ],
        "publisher": [{"@type": "Organization", "name": "OilPrice.com"}],
    }
    org = {"@context": "https://schema.org", "@type": "NewsMediaOrganization", "name": "OilPrice.com"}
    return (
        f'<script type="application/ld+json">{json.dumps(data)}</script>'
        f'<script type="application/ld+json">{json.dumps(org)}</script>'
    )


def author_bio(name: str) -> str:
    """The bio the replica's author box shows (tests compare the stored one with it)."""
    return f"{name.split()[0]} is a writer for Oilprice.com"


def _author_box(article: ReplicaArticle, base: str) -> str:
    slug = article.author.replace(" ", "-")
    return (
        f'<div class="authorBox"><img data-src="https://d32r1sh890xpii.cloudfront.net/avatars/medium/{slug}.jpg" '
        f'alt="{escape(article.author)}" class="authorBox__avatar lozad">'
        f'<p class="authorBox__authorName">{escape(article.author)}</p>'
        f'<p class="authorBox__authorBio">{escape(author_bio(article.author))}</p>'
        f'<p><a class="authorBox__moreInfo" href="{base}/contributors/{slug}">More Info</a></p></div>'
    )


FORUM_THREADS = (
    ("https://community.oilprice.com/topic/1278-e-car-sales-collapse/", "3 minutes", "e-car sales collapse"),
    (
        "https://community.oilprice.com/topic/1266-they-pay-you-to-take-natural-gas/",
        "7 days",
        "They pay YOU to TAKE Natural Gas",
    ),
    ("https://community.oilprice.com/topic/1300-a-question/", "2 days", "A question..."),
)


def _community_block(article: ReplicaArticle) -> str:
    """The forum threads a premium page shows (../shared/seed-page-text.txt), in the markup of
    the site's `div.community_block`."""
    rows = "".join(
        f'<li><div class="headline_row" data-id="{n}"><a target="_blank" href="{url}" class="full_parent"></a>'
        f'<span class="time_ago">{age}</span><span class="article_name">{escape(title)}</span></div></li>'
        for n, (url, age, title) in enumerate(FORUM_THREADS)
    )
    return f'<div class="community_block toggle_block"><ul>{rows}</ul></div>'


def _link_list(
    items: list[ReplicaArticle], base: str, css: str, title_css: str | None = None, query: str = ""
) -> str:
    out = []
    for a in items:
        inner = f'<p class="{title_css}">{escape(a.title)}</p>' if title_css else escape(a.title)
        out.append(f"<a href='{base}{a.path}{query}' class=\"{css}\">{inner}</a>")
    return "".join(out)


# Companies the replica's articles name, from the gazetteer (oilnews/pages/gazetteer.json).
REPLICA_COMPANIES = ("Shell", "Chevron", "ExxonMobil", "BP", "Equinor", "Petrobras", "TotalEnergies")
PLACEHOLDER_GIF = "data:image/gif;base64,R0lGODlhEAAJAIAAAP///wAAACH5BAEAAAAALAAAAAAQAAkAAAIKhI+py+0Po5yUFQA7"


def article_body_html(cat: Catalogue, article: ReplicaArticle, base: str) -> str:
    parts = [
        '\n<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN" "http://www.w3.org/TR/REC-html40/loose.dtd">\n<html><body>'
    ]
    if article.summary:
        parts.append("<ul>" + "".join(f"<li>{escape(s)}</li>" for s in article.summary) + "</ul>")
    related_at = len(article.paragraphs) // 2
    for number, paragraph in enumerate(article.paragraphs):
        css = ' class="speakable"' if number == 0 else ""
        text = escape(paragraph)
        cited = cat.cited(article.index)
        if number == 1 and cited is not None:
            target = cat.article(cited)
            text += f' <a href="{target.path}">Read about {escape(target.title)}</a>.'
        if number == 1 and article.index % 2 == 0:
            # A listed company, as the real pages name them ("Shell", never "a shell").
            text += f" Shares of {REPLICA_COMPANIES[article.index // 2 % len(REPLICA_COMPANIES)]} moved on the news."
        if number == 2:
            text += ' <a href="https://www.bloomberg.com/news/energy">Bloomberg reported</a> similar figures.'
        parts.append(f'<p{css}><span style="font-weight: 400;">{text}</span></p>')
        if number == 1 and article.index % 3 == 0:
            parts.append("<h2>What comes next</h2>")  # a subheading, as longer features have
        if number == 1 and article.index % 4 == 1:
            figure = f"https://d32r1sh890xpii.cloudfront.net/article/figure/{article.index:08d}.jpg"
            parts.append(
                # Lazy, as the site loads its pictures (lozad): a browser asks for nothing.
                f'<figure><img data-src="{figure}" class="lozad" alt="Chart for {escape(article.title)}">'
                f"<figcaption>Output in {escape(article.title.split()[0])}, by month</figcaption></figure>"
            )
        if number == related_at and article.related_inline is not None:
            target = cat.article(article.related_inline)
            parts.append(
                f'<p><strong>Related: <a href="{base}{target.path}">{escape(target.title)}</a></strong></p>'
            )
    if article.is_outlet:
        parts.append(f"<p>By {escape(article.author)}</p>")
    else:
        parts.append(
            f'<p><span>By {escape(article.author)} for </span><a href="http://oilprice.com"><span>Oilprice.com</span></a></p>'
        )
    parts.append(
        '<div align="center" data-freestar-ad="__336x280 __336x280" id="oilprice_medrec_incontent">'
        '<script data-cfasync="false" type="text/javascript">freestar.config.enabled_slots.push({placementName: "oilprice_medrec_incontent"});</script></div>'
    )
    more = cat.neighbours(article.index, 3, salt=5)
    if more:
        heading = (
            "More Company News From Oilprice.com" if article.index % 2 else "More Top Reads From Oilprice.com"
        )
        twin = next(
            (
                cat.article(i)
                for i in range(article.index + 1, min(cat.size, article.index + 60))
                if cat.article(i).twin_path
            ),
            None,
        )
        links = [(a.path, a.title) for a in more]
        if twin is not None and twin.twin_path:
            links.append((twin.twin_path, twin.title))
        parts.append(
            f"<p><strong>{heading}</strong></p><ul>"
            + "".join(
                f'<li><span style="color: #800000;"><strong><a href="{p}" target="_blank">{escape(t)}</a></strong></span></li>'
                for p, t in links
            )
            + "</ul>"
        )
    if article.premium:
        parts.append(
            '<div class="stock_quote_widget"><table><tr><td>EXXON Mobil</td><td>-0.35</td></tr>'
            "<tr><td>Open57.81</td><td>Trading Vol.6.96M</td></tr></table></div>"
        )
    parts.append("</body></html>\n<br/> <br>")
    return "".join(parts)


def render_article(
    cat: Catalogue,
    article: ReplicaArticle,
    base: str,
    now: datetime,
    path: str | None = None,
    claimed_url: str | None = None,
) -> str:
    """An article page; `claimed_url` (a hostile CMS slip): the URL its canonical link, og:url
    and JSON-LD name instead of its own."""
    path = path or article.path
    url = claimed_url or base + path
    body_html = article_body_html(cat, article, base)
    body_text = "\n".join(article.paragraphs)
    members = cat.section_members[article.section]
    position = cat.section_position[article.index]
    newer = cat.article(members[position - 1]) if position > 0 else None
    older = cat.article(members[position + 1]) if position + 1 < len(members) else None
    nav = ""
    for css, label, target in (("previous", "Previous Post", older), ("next", "Next Post", newer)):
        if target is not None:
            nav += (
                f'<div class="singleArticle__navigation__{css}"><p class="singleArticle__navigation__title">'
                f'<a href="{base}{target.path}" class="singleArticle__navigation__titleLink">{label}</a></p>'
                f'<p class="singleArticle__navigation__articleTitle"><a href="{base}{target.path}" '
                f'class="singleArticle__navigation__articleTitleLink">{escape(target.title)}</a></p></div>'
            )
    related = cat.neighbours(article.index, 5, salt=1)
    popular = cat.newest(5)
    commented = cat.neighbours(article.index, 4, salt=3)
    posts = cat.neighbours(article.index, 3, salt=7)
    keywords = (
        (
            f'<meta name="news_keywords" content="{escape(", ".join(article.keywords))}" />'
            f'<meta name="keywords" content="{escape(", ".join(article.keywords))}" />'
        )
        if article.keywords
        else ""
    )
    root = article.section.split("/")[0]
    crumb_name = "Latest Energy News" if root == "Latest-Energy-News" else root.replace("-", " ")
    premium = '<span class="premium_badge">Premium Content</span>' if article.premium else ""
    image = f"https://d32r1sh890xpii.cloudfront.net/article/718x300/{article.published:%Y-%m-%d}_{article.index:08d}.jpg"
    shared = not article.has_picture  # the share logo as og:image, a placeholder in the picture
    og_image = "https://d1o9e4un86hhpc.cloudfront.net/images/facebook-share-logo.png" if shared else image
    extra = (
        f'<meta name="description" content="{escape(article.paragraphs[0][:150])}" />{keywords}'
        f'<link rel="amphtml" href="{base}{path[:-5]}.amp.html" />'
        f'<meta property="og:type" content="article" /><meta property="og:title" content="{escape(article.title)} | OilPrice.com" />'
        f'<meta property="og:image" content="{og_image}" />'
    )
    container = article.body_container_id
    if article.script_built:
        # "</" closes an inline script wherever it appears, even inside a string literal.
        script_body = json.dumps(body_html).replace("</", "<\\/")
        body_block = (
            f'<div id="{container}" class="wysiwyg clear"></div>'
            f"<script>document.getElementById({json.dumps(container)}).innerHTML = {script_body};</script>"
        )
    else:
        body_block = f'<div id="{container}" class="wysiwyg clear">{body_html}</div>'
    return "".join(
        (
            _head(article.title, url, extra),
            '<body><div class="siteContainer singleArticleWrapper">',
            _site_header(cat, base, now),
            '<div class="tableGrid"><div class="tableGrid__column tableGrid__column--articleContent singleArticle">',
            '<div class="singleArticle__headingMeta"><div class="singleArticle__headingMeta__text">',
            '<span class="singleArticle__headingMeta__postDate"></span>',
            '<ol class="singleArticle__headingMeta__postBreadcrumb" itemscope itemtype="https://schema.org/BreadcrumbList">',
            f'<li itemprop="itemListElement"><a itemprop="item" href="{base}/" class="first"><span itemprop="name">Home</span></a></li>',
            f'<li itemprop="itemListElement"><a itemprop="item" href="{base}/{article.section}/"><span itemprop="name">{escape(crumb_name)}</span></a></li>',
            "</ol></div></div>",
            '<div class="singleArticle__wrapper"><div id="singleArticle__sidebar" class="singleArticle__sidebar">',
            _author_box(article, base),
            '<div class="sidebarRelatedArticles"><h3 class="sectionHeading__title sidebarRelatedArticles__title">Related News</h3>',
            '<ul class="sidebarRelatedArticles__list">',
            "".join(
                f'<li class="sidebarRelatedArticles__item"><a class="sidebarRelatedArticles__itemLink" '
                f'href="{base}{a.path}{"?utm_source=related&utm_medium=sidebar" if n == 0 else ""}">{escape(a.title)}</a></li>'
                for n, a in enumerate(related)
            ),
            "</ul></div></div>",
            f'<div class="singleArticle__content">{premium}<h1 class="speakable">{escape(article.title)}</h1>',
            f'<span class="article_byline">By <a href="{base}/contributors/{article.author.replace(" ", "-")}">{escape(article.author)}</a> - {_byline_date(article.published)}</span>',
            _json_ld(article, url, body_text),
            '<div class="articleImageContainer"><picture class="singleArticle__articleImage">'
            + (
                f'<img src="{PLACEHOLDER_GIF}" alt="{escape(article.title)}">'
                if shared
                else f'<img data-src="{image}" class="lozad" alt="{escape(article.title)}">'
            )
            + "</picture></div>",
            body_block,
            f'<p><a class="join-discussion" href="#commentsform">Join the discussion</a> | <a href="{base}/">Back to homepage</a></p>',
            "</div></div>",
            f'<div class="share-buttons"><a href="https://twitter.com/intent/tweet?url={escape(url)}">Tweet</a></div>',
            f'<div class="singleArticle__navigation">{nav}</div>',
            '<div class="articleRelatedPosts"><h3 class="articleRelatedPosts__heading">Related posts</h3><div class="grid grid__edgeToEdge">',
            "".join(
                f'<a href="{base}{a.path[:-5]}.amp.html" class="grid__col grid__3col articleRelatedPosts__article">'
                f'<h3 class="articleRelatedPosts__articleTitle">{escape(a.title)}</h3></a>'
                if n == 0
                else f'<a href="{base}{a.path}" class="grid__col grid__3col articleRelatedPosts__article">'
                f'<h3 class="articleRelatedPosts__articleTitle">{escape(a.title)}</h3></a>'
                for n, a in enumerate(posts)
            ),
            "</div></div>",
            '<form id="commentsform" action="/ajax/comment"><textarea name="comment"></textarea></form>',
            "</div>",
            '<div class="tableGrid__column tableGrid__column--articleSidebar"><div class="articleSidebar">',
            '<div class="sidebarTrendingArticles"><h3 class="sectionHeading__title">Most Popular</h3>',
            _link_list(
                popular, base, "sidebarTrendingArticles__article", "sidebarTrendingArticles__articleTitle"
            ),
            '</div><div class="sidebarSponsorContent"><h3 class="sidebarSponsorContent__heading">Most Commented</h3>',
            _link_list(
                commented, base, "sidebarSponsorContent__article", "sidebarSponsorContent__articleTitle"
            ),
            "</div>"
            + (_community_block(article) if article.premium else "")
            + '<div class="forumBlock"><a href="https://community.oilprice.com/topic/1-energy">Forum</a>'
            '<a href="http://10.0.0.1/internal">Partner</a><a href="file:///etc/passwd">Archive</a></div>',
            "</div></div></div></div>",
            _footer(base),
        )
    )


def render_listing(cat: Catalogue, section: str, page: int, base: str, now: datetime) -> str | None:
    members = cat.section_members.get(section)
    if members is None:
        return None
    pages = listing_page_count(cat, section)
    if page > pages:
        return None
    chunk = [cat.article(i) for i in members[(page - 1) * PER_PAGE : page * PER_PAGE]]
    teasers = "".join(
        f'<div class="categoryArticle"><a class="categoryArticle__imageHolder" href="{base}{a.path}">'
        f'<img width="270" height="200" class="categoryArticle__image lozad opacity_0" '
        f'data-src="https://d32r1sh890xpii.cloudfront.net/article/270x200/{a.published:%Y-%m-%d}_{a.index:08d}.jpg" alt="{escape(a.title)}"></a>'
        f'<div class="categoryArticle__content"><a href="{base}{a.path}"><h2 class="categoryArticle__title">{escape(a.title)}</h2></a>'
        f'<p class="categoryArticle__meta">{_listing_date(a.published)} | {escape(a.author)}</p>'
        f'<p class="categoryArticle__excerpt">{escape(a.paragraphs[0][:140])}&#8230;</p></div></div>'
        for a in chunk
    )

    def url(number: int) -> str:
        return base + listing_path(section, number)

    links = ""
    if page > 1:
        links += f'<a href="{url(1)}" class="first">&lt; First</a><a href="{url(page - 1)}" class="previous">&lt;</a>'
    else:
        links += '<span class="first disabled">&lt; First</span><span class="disabled">&lt;</span>'
    links += f'<span class="current">{page}</span><span class="num_pages">/{pages}</span>'
    head_links = f'<link rel="prev" href="{url(page - 1)}">' if page > 1 else ""
    if page < pages:
        links += f'<a href="{url(page + 1)}" class="num">{page + 1}</a><a href="{url(page + 1)}" class="next">&gt;</a><a href="{url(pages)}" class="last">Last &gt;</a>'
        head_links += f'<link rel="next" href="{url(page + 1)}">'
    canonical = base + f"/{section}/Page-{page}.html"
    return "".join(
        (
            _head(f"Oil News Today - Page {page}", canonical, head_links),
            '<body><div class="siteContainer categoryWrapper">',
            _site_header(cat, base, now),
            '<div class="tableGrid"><div class="tableGrid__column tableGrid__column--articleContent category">',
            f'<h1 class="categoryHeading">{escape(section.split("/")[-1].replace("-", " "))}</h1>',
            teasers,
            f'<div class="pagination">{links}</div></div></div></div>',
            _footer(base),
        )
    )


def listing_page_count(cat: Catalogue, section: str) -> int:
    return max(1, ceil(len(cat.section_members.get(section, ())) / PER_PAGE))


def with_next_link(listing: str, next_url: str) -> str:
    """A listing page whose pagination (and <link rel=next>) leads to `next_url`."""
    link = f'<a href="{next_url}" class="next">&gt;</a>'
    listing = re.sub(r'<a href="[^"]*" class="next">&gt;</a>', "", listing)
    listing = re.sub(r'<link rel="next" href="[^"]*">', "", listing)
    listing = listing.replace('<div class="pagination">', f'<div class="pagination">{link}', 1)
    return listing.replace("</head>", f'<link rel="next" href="{next_url}"></head>', 1)


def render_home(cat: Catalogue, base: str, now: datetime) -> str:
    sections = "".join(f'<li><a href="{base}/{s}/">{escape(s)}</a></li>' for s in cat.sections)
    latest = "".join(f'<li><a href="{base}{a.path}">{escape(a.title)}</a></li>' for a in cat.newest(20))
    return (
        _head("OilPrice.com", base + "/")
        + '<body><div class="siteContainer">'
        + _site_header(cat, base, now)
        + f'<ul class="sections">{sections}</ul><ul class="latest">{latest}</ul></div>'
        + _footer(base)
    )


def render_rss(cat: Catalogue, base: str) -> str:
    items = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base}{a.path}?utm_source=rss&amp;utm_medium=feed</link>"
        f'<guid isPermaLink="false">{a.index}</guid>'
        f"<pubDate>{a.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>{escape(a.paragraphs[0][:200])}</description></item>"
        for a in cat.newest(50)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>OilPrice.com</title>'
        f"<link>{base}/</link><description>Oil and energy news</description>{items}</channel></rss>"
    )


def render_sitemap(cat: Catalogue, base: str, year: int, month: int) -> str | None:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    first = max(0, ceil((start - cat.epoch) / (cat.published(1) - cat.published(0))))
    urls = []
    index = first
    while index < cat.size and cat.published(index) < end:
        urls.append(
            f"<url><loc>{base}{cat.path(index)}</loc><lastmod>{_iso_local(cat.modified(index))}</lastmod></url>"
        )
        index += 1
    if not urls and (end <= cat.epoch or start > cat.published(max(0, cat.size - 1))):
        return None
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{"".join(urls)}</urlset>'
    )


def render_sitemap_index(sitemaps: list[str]) -> str:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in sitemaps)
    if not sitemaps:
        return '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
    )


# --- browser-only pages ------------------------------------------------------------------
CHART_DATA_PATH = "/freewidgets/json_get_oilprices"
CHART_BLENDS = (45, 46, 51)
CHART_POINTS = 24
# A JavaScript check in front of the page, as a bot-protection service serves it: only a
# client that runs the script (sets the cookie, reloads) ever sees the article.
CHALLENGE_HTML = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<p>Checking your browser before accessing the site.</p>"
    '<script>document.cookie = "oilnews_challenge=passed; path=/"; location.reload();</script>'
    "</body></html>"
)


def chart_anchor(cat: Catalogue) -> datetime:
    """The chart's newest point: the newest article's hour, so it is deterministic."""
    newest = cat.published(max(0, cat.size - 1))
    return newest.replace(minute=0, second=0, microsecond=0)


def chart_data(cat: Catalogue, blend_id: int) -> str:
    """`json_get_oilprices` as the site answers it: hourly prices and the blend's name."""
    base = next((price for bid, _name, price in BLENDS if bid == blend_id), 50.0)
    name = next((n for bid, n, _p in BLENDS if bid == blend_id), f"Blend {blend_id}")
    anchor = int(chart_anchor(cat).timestamp())
    points = [
        {"price": round(base + ((blend_id * 31 + k * 17) % 41 - 20) / 10, 2), "time": anchor - k * 3600}
        for k in range(CHART_POINTS)
    ]
    return json.dumps(
        {
            "prices": points,
            "last_price": points[0]["price"],
            "blend": {"blend_name": name, "last_price_timestamp": anchor},
        }
    )


def render_chart_page(cat: Catalogue, base: str, now: datetime) -> str:
    """The price chart page: its data arrives only by script, from the JSON endpoint."""
    script = (
        "const blends = " + json.dumps(list(CHART_BLENDS)) + ";"
        "Promise.all(blends.map(id => fetch(" + json.dumps(CHART_DATA_PATH) + ", {method: 'POST',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', 'X-Requested-With': 'XMLHttpRequest'},"
        " body: 'blend_id=' + id + '&period=2&op_csrf_token=replica'}).then(r => r.json().then(d => [id, d]))))"
        ".then(all => { let rows = '';"
        " for (const [id, d] of all) { for (const p of d.prices) {"
        " rows += '<tr class=\"chart_point\" data-blend-id=\"' + id + '\" data-time=\"' + p.time + '\">'"
        " + '<td class=\"blend_name\">' + d.blend.blend_name + '</td><td class=\"price\">' + p.price + '</td></tr>'; } }"
        " document.getElementById('chart-data').innerHTML = rows; });"
    )
    return (
        _head("Oil Price Charts", base + CHART_PATH)
        + '<body><div class="siteContainer">'
        + _site_header(cat, base, now)
        + '<div class="oilPriceCharts"><canvas id="chart"></canvas><table id="chart-data"></table></div>'
        + f"<script>{script}</script></div>"
        + _footer(base)
    )
