"""Ingestion of the departments' deliveries: validate at the door, quarantine, load exactly once.

Public API (used by the Airflow DAGs and ``credit-dw ingest``)::

    delivery_ready(feed, day, landing_root=None) -> bool
    ingest_delivery(feed, day, *, dsn=None, landing_root=None) -> DeliveryResult
        # raises IngestError (files failed, all recorded), DeliveryRefused, WarehouseUnavailable,
        # credit_dw.config.ConfigError (CREDIT_DW_PII_KEY missing): each with a one-line message

Modules: ``encoding`` (which codec), ``readers`` (CSV/JSONL/XLSX streams), ``values`` (typed
parsing), ``validation`` (one record → columns or issues), ``derive`` (named row hooks),
``loader`` (one file, one transaction), ``snapshot`` (daily snapshots → intervals),
``delivery`` (one folder), ``reasons`` (stable reason codes).
"""

from credit_dw.ingest.delivery import (
    DONE_MARKER,
    DeliveryRefused,
    DeliveryResult,
    IngestError,
    delivery_folder,
    delivery_ready,
    ingest_delivery,
)
from credit_dw.ingest.loader import FileResult, WarehouseUnavailable

__all__ = [
    "DONE_MARKER",
    "DeliveryRefused",
    "DeliveryResult",
    "FileResult",
    "IngestError",
    "WarehouseUnavailable",
    "delivery_folder",
    "delivery_ready",
    "ingest_delivery",
]
