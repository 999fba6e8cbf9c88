"""`python -m oilnews.cli`: the `oilnews` command (tests, benchmarks and workers start it so)."""

from oilnews.cli import run

run()
