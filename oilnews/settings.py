"""Scrapy settings for oilnews: Scrapy's own first, then every OILNEWS_ setting in one place.

Each OILNEWS_ setting is declared here once, with its default; its type is the default's
type, and oilnews.config adds the ranges and formats it is checked against before a crawl.
Every OILNEWS_ setting can be set in the environment under its own name (the one home of
that rule: oilnews.config.from_environment, applied by the CLI and the safety add-on), which is
where secrets (database URL, Redis URL, scrapyd credentials) come from: nothing here or in
scrapy.cfg holds them. `-s NAME=value` or the matching `oilnews crawl` option wins over both.
Importing this module changes nothing and imports no Scrapy (the read commands load it): the
add-ons (ADDONS) do the set-up when a crawler is built.
"""

from __future__ import annotations

from typing import Any

from oilnews.site import CHART_PATH, DEFAULT_SECTIONS, REAL_SITE_URL

BOT_NAME = "oilnews"
SPIDER_MODULES = ["oilnews.spiders"]
NEWSPIDER_MODULE = "oilnews.spiders"
COMMANDS_MODULE = "oilnews.commands"  # `scrapy crawl` exits with oilnews' exit codes
ADDONS = {
    "oilnews.addons.SafetyAddon": 0,  # secrets masked in logs; settings validated
    "oilnews.addons.PolitenessAddon": 10,
    "oilnews.addons.RenderingAddon": 20,
    "oilnews.addons.DistributedAddon": 30,
}
LOG_FORMATTER = (
    "oilnews.extensions.log_formatter.OilnewsLogFormatter"  # a dropped item: its reason and URL, one line
)

# --- Scrapy: politeness for the real site (the spider relaxes these for a loopback replica) --
USER_AGENT = "oilnews/0.1 (+https://github.com/oilnews/oilnews; news archive crawler)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
OILNEWS_RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry, doubled each time
OILNEWS_RETRY_BACKOFF_MAX = 60.0  # cap, also for a server's Retry-After
REDIRECT_MAX_TIMES = 5
# Measured here: a small item concurrency beats Scrapy's 100 by 30-40% (CPU-bound pipeline).
CONCURRENT_ITEMS = 8
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
DEPTH_PRIORITY = 0
DUPEFILTER_CLASS = "oilnews.seen.DigestDupeFilter"  # 8 bytes a request (distributed: Redis's)
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
STATS_DUMP = True
# Scrapy reads each callback's source and parses it (a check for `return value` in a
# generator): 0.4 s of every run's start here, for a mistake ruff and the tests catch.
WARN_ON_GENERATOR_RETURN_VALUE = False

DOWNLOADER_MIDDLEWARES = {
    "oilnews.middlewares.scope.SiteScopeMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "oilnews.middlewares.robots.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "oilnews.middlewares.retry.BackoffRetryMiddleware": 550,
    "oilnews.middlewares.rendering.ChallengeRenderMiddleware": 560,  # sees a challenge before retries do
    "oilnews.middlewares.charset.Utf8CharsetMiddleware": 580,  # after decompression (590)
    "oilnews.middlewares.redirects.RedirectLoopMiddleware": 650,  # before RedirectMiddleware (600) sees a 3xx
    "oilnews.middlewares.warc.WarcCaptureMiddleware": 990,  # next to the handler: every fetch as it came
}
# The site is HTTP(S): the s3 and ftp handlers would only be imported at every start.
DOWNLOAD_HANDLERS = {"s3": None, "ftp": None}
SPIDER_MIDDLEWARES = {
    "oilnews.middlewares.rendering.EmptyBodyRenderMiddleware": 950,  # next to the spider: sees its items first
}

ITEM_PIPELINES = {
    "oilnews.pipelines.CleanPipeline": 100,
    "oilnews.pipelines.ValidatePipeline": 200,
    "oilnews.pipelines.DedupePipeline": 300,
    "oilnews.pipelines.StorePipeline": 800,
}

EXTENSIONS = {
    "oilnews.storage.database.Database": 0,  # the database service the components share
    "oilnews.extensions.known.KnownIndex": 10,  # what is stored already (incremental crawling)
    "oilnews.extensions.backfill.Backfill": 20,  # off unless OILNEWS_BACKFILL_SINCE
    "oilnews.extensions.health.HealthMonitor": 50,  # before the recorder: its verdict is recorded
    "oilnews.extensions.alerts.Alerter": 60,  # before the recorder: what it delivered is recorded
    "oilnews.extensions.run_recorder.CrawlRunRecorder": 100,
    "oilnews.extensions.metrics.MetricsFile": 110,
    "oilnews.extensions.heartbeat.WatchHeartbeat": 120,  # a watcher's (oilnews watch) only
    "oilnews.extensions.progress.ProgressReporter": 200,
    "oilnews.extensions.interrupts.SignalRecorder": 210,  # SIGINT/SIGTERM: interrupted, 130/143
    "oilnews.extensions.distributed.RedisWorkerCoordinator": 300,
}
# Scrapy's components that are off in every oilnews run (TELNETCONSOLE_ENABLED, COOKIES_ENABLED,
# HTTPCACHE_ENABLED, MEMDEBUG_ENABLED, REMOTE_CONTROL_ENABLED) are still imported at start, even when
# set to None in EXTENSIONS (Scrapy imports a key to compare it): the remote control alone
# imports aiohttp, 0.3 s of a 3 s rerun (issue 15). So they leave the base lists instead;
# tests/unit/test_settings.py checks that nothing else is removed.
_not_loaded = frozenset(
    {
        "scrapy.extensions.telnet.TelnetConsole",
        "scrapy.extensions.remote_control.RemoteControl",
        "scrapy.extensions.memdebug.MemoryDebugger",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
    }
)
_SCRAPY_BASES = ("EXTENSIONS_BASE", "DOWNLOADER_MIDDLEWARES_BASE")


def __getattr__(name: str) -> Any:
    # EXTENSIONS_BASE and DOWNLOADER_MIDDLEWARES_BASE: Scrapy's, less what is never loaded. Made
    # when Scrapy reads them (Settings.setmodule walks dir() and getattr), so importing this
    # module for its OILNEWS_ defaults (the read commands) imports no Scrapy (PEP 562).
    if name in _SCRAPY_BASES:
        import scrapy.settings.default_settings as scrapy_defaults

        base: dict[str, int] = getattr(scrapy_defaults, name)
        return {k: v for k, v in base.items() if k not in _not_loaded}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SCRAPY_BASES})


# --- oilnews: where and what ----------------------------------------------------------------
OILNEWS_SITE_URL = REAL_SITE_URL
OILNEWS_SECTIONS = list(DEFAULT_SECTIONS)
OILNEWS_USE_RSS = True
OILNEWS_MAX_PAGES = 0  # listing pages per section; 0 = follow pagination to the end
# ... but never more than this, whatever the site says: a last bound on a pagination that never
# ends. World-News, the real site's largest section, had 1,194 pages of 20 in Aug 2025.
OILNEWS_MAX_LISTING_PAGES = 10_000
OILNEWS_SINCE = ""  # "2024-01": stop paginating at older listings, backfill sitemaps
OILNEWS_MAX_HOPS = 2  # sidebar/related-link hops away from a listing, RSS or sitemap
OILNEWS_MAX_SITEMAPS = 1000  # sitemaps named by sitemap indexes, per run (the site has ~200 months)
OILNEWS_MAX_FOLLOW_PER_PAGE = 100  # new article requests one page may add (real pages link ~30)
OILNEWS_POLITE = "auto"  # auto: polite unless the site is a loopback replica; true/false

# --- oilnews: storage ---------------------------------------------------------------------
OILNEWS_DATABASE_URL = "sqlite:///oilnews.db"
OILNEWS_DB_AUTO_MIGRATE = True
OILNEWS_DB_BATCH_SIZE = 250  # measured best for PostgreSQL here (100: 3k rows/s, 250: 11k, 1000: 7k)
OILNEWS_DB_RETRIES = 5
OILNEWS_DB_RETRY_BACKOFF = 0.5  # seconds, doubled per attempt
OILNEWS_DB_FLUSH_SECONDS = 0.0  # > 0: a part-filled batch is written this often too (watch: 2)
OILNEWS_SPOOL_DIR = "spool"
# Every fetch kept as WARC/1.1 (oilnews reparse derives the store again from it). "auto": a
# `warc` folder beside a SQLite database file, else ./warc; "" turns capture off.
OILNEWS_WARC_DIR = "auto"
OILNEWS_WARC_MAX_MB = 1024.0  # a file is closed and the next one begun past this size
OILNEWS_WARC_SKIP_NOT_MODIFIED = True  # a 304 (nothing changed) is not written
OILNEWS_REPARSE_SECTIONS: list[str] = []  # oilnews reparse --section: only these (and below); [] = all

# --- oilnews: item handling -----------------------------------------------------------------
OILNEWS_REQUIRED_FIELDS = ["url", "title", "body", "published_at"]
OILNEWS_DEDUPE_ACROSS_RUNS = True

# --- oilnews: reporting ---------------------------------------------------------------------
OILNEWS_PROGRESS_INTERVAL = 0.0  # seconds between progress lines on stderr; 0 = off

# --- oilnews: being told (oilnews.extensions.alerts); off unless set, from the environment ----------
OILNEWS_ALERT_WEBHOOK = ""  # JSON POST, Slack-compatible `text`
OILNEWS_ALERT_EMAIL_TO = ""  # comma-separated; SMTP from OILNEWS_SMTP_*
OILNEWS_ALERT_TIMEOUT = 10.0  # seconds one delivery may take: an alert never holds up the exit for long
OILNEWS_METRICS_FILE = ""  # Prometheus textfile, after every run

# --- oilnews: health checks (evaluated at the end of every run) -----------------------------
OILNEWS_RECORD_RUNS = True
OILNEWS_HEALTH_ENABLED = True
OILNEWS_HEALTH_FIELDS = ["title", "body", "published_at", "authors"]
OILNEWS_HEALTH_MAX_MISSING_SHARE = 0.10
OILNEWS_HEALTH_MAX_ERROR_RATE = 0.05
OILNEWS_HEALTH_MAX_SUSPICIOUS_DATES = 0.10  # share of articles with a future date, or a change long before it
OILNEWS_CLEAN_FINISH_REASONS = ["finished"]  # the watch spider adds "shutdown" (SIGTERM, SIGINT)

# --- oilnews: incremental crawling ---------------------------------------------------------
OILNEWS_FULL = False  # true: download everything, ignore what is stored
OILNEWS_REFRESH_WINDOW_HOURS = 48.0  # stored articles younger than this are fetched again
# A changed article gets a new version at most this often a day; past it, updated in place
# (a page whose text changes on every fetch must not grow its history without bound). 0: no cap.
OILNEWS_MAX_VERSIONS_PER_DAY = 12
OILNEWS_SITEMAP_LOOKBACK_MONTHS = 2  # monthly sitemaps read by every run (edits via lastmod)
OILNEWS_RUN_STALE_HOURS = 6.0  # a 'running' crawl_runs row older than this was killed

# --- oilnews: the whole archive in slices (oilnews.extensions.backfill); off unless a month is given ----
OILNEWS_BACKFILL_SINCE = ""  # (env) "2011-01": every run also works on the archive from this month
OILNEWS_BACKFILL_BUDGET_MINUTES = 20.0  # ... for at most this long, after the fresh news

# --- oilnews: watch mode (`oilnews watch`, the `watch` spider; policy in oilnews.spiders.watch_policy) --------
# The real site's polite figures: at most ~1.5 requests a minute while nothing is published.
OILNEWS_WATCH_MIN_SECONDS = 60.0  # never poll one source more often than this
OILNEWS_WATCH_MAX_SECONDS = 180.0  # the RSS feed, when quiet, at least this often
OILNEWS_WATCH_LISTING_MAX_SECONDS = 1200.0  # page 1 of each section, when quiet
OILNEWS_WATCH_SITEMAP_MINUTES = 30.0  # the current month's sitemap: lastmod reveals edits; 0 = off
OILNEWS_WATCH_TICKER_MINUTES = 15.0  # the price ticker; 0 = off
OILNEWS_WATCH_REFRESH_MINUTES = 360.0  # articles in the refresh window fetched again; 0 = off
OILNEWS_WATCH_MAX_MINUTES = 0.0  # end after this long (0: run until stopped)
# crawl_runs.heartbeat_at, counts, the metrics file and outage alerts; the watch spider sets 30
OILNEWS_WATCH_HEARTBEAT_SECONDS = 0.0
OILNEWS_WATCH_ALERT_AFTER_MINUTES = 10.0  # an outage (every poll failing, or writes spooled) this long alerts

# --- oilnews: distributed mode (scrapy-redis); off unless OILNEWS_REDIS_URL is set -----------
OILNEWS_REDIS_URL = ""
# Empty: a starting worker joins the run in progress (a peer alive) or starts a new one.
OILNEWS_REDIS_GENERATION = ""  # names a run explicitly
OILNEWS_REDIS_KEY_TTL_HOURS = 24.0  # a run's queue and fingerprints expire after this
OILNEWS_REDIS_IDLE_GRACE = 15.0  # seconds a silent peer still counts as alive (joins, keeps open)
OILNEWS_REDIS_PREFIX = ""  # written by the distributed add-on: this run's Redis key prefix

# --- oilnews: browser rendering (scrapy-playwright, Debian's Chromium) -----------------------
OILNEWS_RENDER = True  # false: never render, nothing of Playwright is loaded
OILNEWS_RENDER_AVAILABLE = False  # written by the rendering add-on: a browser can be used
OILNEWS_CHROMIUM_PATH = ""  # default /usr/bin/chromium
OILNEWS_RENDER_ALWAYS = False  # true: every article page through the browser (a JS-only site)
OILNEWS_RENDER_MAX_CONTEXTS = 1
OILNEWS_RENDER_MAX_PAGES = 4  # pages open at once in the browser context
OILNEWS_RENDER_TIMEOUT_MS = 20_000  # navigation timeout of a rendered page
OILNEWS_CHART_PATH = CHART_PATH  # rendered for the blends' price history; "" = off
OILNEWS_CHART_EVERY_HOURS = 6.0  # ... at most this often: most scheduled runs launch no browser
