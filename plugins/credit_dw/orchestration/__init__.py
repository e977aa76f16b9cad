"""Airflow wiring: builds DAG objects from feed specs. Imported by the thin files in ``dags/``.

Nothing here touches a database or the network at import or DAG-construction time; heavy
libraries (psycopg work, dbt, GX) are imported inside task callables.
"""
