"""Interoperability with other curation tools: datatrove steps and readers inside our DAG."""

from curation.interop.datatrove import DatatroveReader, DatatroveStep

__all__ = ["DatatroveReader", "DatatroveStep"]
