# Stub for scrapyd-deploy, which builds the egg with `python setup.py bdist_egg`.
# Everything else (dependencies, metadata) lives in pyproject.toml.
from setuptools import setup

setup()
