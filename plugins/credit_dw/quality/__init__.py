"""Quality gates: GX suites on the night's raw batches and on the candidate marts, the results
stored in ``quality.*``, the publish swap, and alerts.

Nothing here imports Great Expectations at module import time (it costs ~2.5 s and would slow
every DAG parse and CLI start); :mod:`credit_dw.quality.context` imports it inside functions.

Public entry points (see ``docs/quality.md``):

- :func:`credit_dw.quality.gate.validate_feeds`, :func:`~credit_dw.quality.gate.validate_candidate_marts`,
  :func:`~credit_dw.quality.gate.assert_passed`
- :func:`credit_dw.quality.publish.publish`, :func:`~credit_dw.quality.publish.record_blocked`
- :func:`credit_dw.quality.alerts.on_failure_callback`, :func:`~credit_dw.quality.alerts.raise_alert`
"""
