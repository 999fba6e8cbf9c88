"""Downloader and spider middlewares, one a module: scope, retry, robots.txt, charset,
redirect loops, browser rendering; and the download handler that starts the browser only for
a request that asks for one. settings.DOWNLOADER_MIDDLEWARES / SPIDER_MIDDLEWARES order them."""
