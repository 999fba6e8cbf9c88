"""Scrapy extensions, one a module (as scrapy/extensions/): what is stored (known), the sliced
backfill, the distributed worker, the health check, alerts, metrics, the watcher's heartbeat,
the crawl_runs record and the progress line. Each is built from_crawler, configured by settings
only, and raises NotConfigured when off; settings.EXTENSIONS names them in order."""
