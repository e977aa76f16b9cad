"""credit_dw: the credit data warehouse pipeline as an ordinary Python package.

Airflow puts ``plugins/`` on ``sys.path``, so DAG files import this package and stay thin;
the ``credit-dw`` CLI calls the very same functions.
"""

__version__ = "0.1.0"
