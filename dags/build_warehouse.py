"""The nightly warehouse build (Airflow DAG ``build_warehouse``): gate, dbt, publish, report.

Thin file: the wiring lives in ``credit_dw.orchestration.build_dag``; it is scheduled on the
Assets of every raw table the feed specs declare, with a nightly fallback.
"""

from credit_dw.feeds import all_specs
from credit_dw.orchestration.build_dag import make_build_dag

build_warehouse = make_build_dag(sorted({t for spec in all_specs() for t in spec.raw_tables}))
