"""`oilnews report`'s parts: what it reads (data.py) and what it draws (charts.py); the page is
oilnews.cli.report."""
