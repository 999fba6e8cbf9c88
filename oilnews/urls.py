"""URL canonicalisation and the site boundary.

The canonical URL is the identity of an article: the same page reached with tracking
parameters, a fragment, an AMP suffix, `www.` or plain http must map to one key.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from oilnews.site import REAL_SITE_HOSTS, is_article_path

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref"}
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "oly_")
HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


# The longest URL oilnews stores (the bound of the url columns, and of a btree index entry on
# PostgreSQL): a longer link is left out, a longer article URL dropped, each counted.
MAX_URL_LENGTH = 2048


def canonical_url(url: str, base: str | None = None) -> str | None:
    """Canonical form of an http(s) URL, or None for anything that is not one (or is longer
    than MAX_URL_LENGTH once canonical).

    The site's own rules first: https for the real site (it serves nothing over http),
    lower-case host without `www.` there, no default port, `.amp.html` folded into `.html`,
    no query at all on an article page, no tracking parameters elsewhere (w3lib's
    url_query_cleaner); then w3lib's canonicalize_url (one
    percent-encoding, parameters sorted, no fragment). Changing this form needs a data
    migration of the stored URLs (see migrations 0002).
    """
    url = url.strip()
    if base is not None and not url.startswith(("http://", "https://")):
        url = urljoin(base, url)
    if len(url) > 4 * MAX_URL_LENGTH:
        return None  # not worth canonicalising: it cannot come out short enough
    canonical = _canonical_absolute(url)
    return canonical if canonical is None or len(canonical) <= MAX_URL_LENGTH else None


# Sidebars repeat the same few hundred URLs on every page: cached. Not more: 65,536 entries of
# both caches held about 40 MB by the end of a 100,000-article crawl (issue 15).
URL_CACHE_SIZE = 8192


@lru_cache(maxsize=URL_CACHE_SIZE)
def _canonical_absolute(url: str) -> str | None:
    split = _split(url)
    if split is None:
        return None
    parts, scheme, host, port = split
    if host in REAL_SITE_HOSTS:
        scheme, host = "https", "oilprice.com"
        port = None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    while "//" in path:
        path = path.replace("//", "/")
    if path.endswith(".amp.html"):
        path = path[: -len(".amp.html")] + ".html"
    # An article page is its path: the site serves the same article whatever the query says,
    # so `?v=1`, `?v=2`, ... would be thousands of keys (and downloads) for one story.
    query = "" if is_article_path(path) else parts.query
    url = urlunsplit((scheme, netloc, path, query, ""))
    tracking = [name for name, _value in parse_qsl(query, keep_blank_values=True) if _is_tracking(name)]
    if tracking:
        url = url_query_cleaner(url, tracking, remove=True, unique=False)
    # w3lib's form, the one Scrapy's dupefilter fingerprints: `Café` and `Caf%C3%A9` are one
    # key, escapes upper-case, unreserved characters unescaped, parameters sorted.
    return canonicalize_url(url)


@lru_cache(maxsize=URL_CACHE_SIZE)
def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None if not http(s)."""
    split = _split(url)
    if split is None:
        return None
    _parts, scheme, host, port = split
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _split(url: str) -> tuple[SplitResult, str, str, int | None] | None:
    """(parts, lower-case scheme, lower-case host, explicit port) of an http(s) URL, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES or not parts.hostname:
        return None
    return parts, scheme, parts.hostname.lower().rstrip("."), port


def same_origin(url: str, site_url: str) -> bool:
    """True when `url` is on the configured site: same scheme, host and port.

    The real site's `www.` host and http links count as the site, since the crawler
    canonicalises them to https://oilprice.com before requesting.
    """
    mine, theirs = origin(url), origin(site_url)
    if mine is None or theirs is None:
        return False
    if mine[1] in REAL_SITE_HOSTS and theirs[1] in REAL_SITE_HOSTS:
        return True
    return mine == theirs


def is_article_url(url: str, site_url: str) -> bool:
    return same_origin(url, site_url) and is_article_path(urlsplit(url).path)
