"""``curate inspect``: what a run, a dataset or a mix plan holds, as tables and as one HTML page."""

from curation.report.gather import DatasetView, PlanView, RunView, gather
from curation.report.render import html_report, text_report

__all__ = ["DatasetView", "PlanView", "RunView", "gather", "html_report", "text_report"]
