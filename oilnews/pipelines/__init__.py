"""Item pipelines, in order: clean -> validate -> dedupe -> store."""

from oilnews.items import AliasItem
from oilnews.pipelines.clean import CleanPipeline
from oilnews.pipelines.dedupe import DedupePipeline
from oilnews.pipelines.store import StorePipeline
from oilnews.pipelines.validate import ValidatePipeline

__all__ = ["AliasItem", "CleanPipeline", "DedupePipeline", "StorePipeline", "ValidatePipeline"]
