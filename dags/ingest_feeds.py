"""Nightly ingestion (Airflow DAGs): one DAG per feed spec (``ingest_registration``, ``ingest_penalty``, ...).

A thin file: the factory in ``credit_dw.orchestration`` does the wiring and the feed specs under
``plugins/credit_dw/feeds/`` are the configuration. Adding a feed is adding a spec file.
"""

from credit_dw.feeds import all_specs
from credit_dw.orchestration.ingest_dag import make_ingest_dag

for _spec in all_specs():
    globals()[f"ingest_{_spec.feed}"] = make_ingest_dag(_spec)
