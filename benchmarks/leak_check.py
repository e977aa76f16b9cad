"""The marts gate's ID-leak check: one GX expectation per text column against one scan per table.

Both run in the same process on the same table: ``rows`` rows of ``columns`` text columns shaped
like the marts' free text (Chinese text with hex runs, three planted clear IDs), in a fresh
warehouse database dropped afterwards. *per column* is what the gate did before (GX's
``ExpectColumnValuesToNotMatchRegex`` on every text column: a pass and several queries each);
*one scan* is ``suites.no_clear_id_expectation`` (the columns joined, matched once per row).
Both must find the same three rows. Run niced::

    nice -n 10 .venv/bin/python benchmarks/leak_check.py --rows 300000 --columns 25
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    harness.prepare_environment()
    import psycopg

    from credit_dw.quality.context import sqlalchemy_url

    columns = [f"c{i}" for i in range(1, args.columns + 1)]
    with harness.fresh_database(prefix="credit_dw_bench_leak") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            texts = ", ".join(f"'某某市某某区' || md5((g * {i})::text) || '处罚决定' as {c}"
                              for i, c in enumerate(columns, 1))
            conn.execute(f"create table m as select md5(g::text) as record_id, {texts}"
                         f" from generate_series(1, {args.rows}) g")
            conn.execute("update m set c2 = '法定代表人 110101199003071234 罚款' where record_id in"
                         " (select record_id from m order by record_id limit 3)")
            conn.execute("analyze m")
        result = {"benchmark": "leak_check", "machine": harness.machine(), "rows": args.rows,
                  "columns": args.columns, "seconds": {}, "unexpected": {}}
        for variant in ("per_column", "one_scan"):
            seconds, unexpected = _validate(sqlalchemy_url(dsn), variant, columns)
            result["seconds"][variant] = round(seconds, 2)
            result["unexpected"][variant] = unexpected
    result["speedup"] = round(result["seconds"]["per_column"] / result["seconds"]["one_scan"], 2)
    path = harness.write_json(args.out / args.name, result)
    print(json.dumps({k: result[k] for k in ("rows", "columns", "seconds", "unexpected", "speedup")}))
    print(f"results: {path}")
    return 0


def _validate(url: str, variant: str, columns: list[str]) -> tuple[float, int]:
    """Seconds of one GX validation of table ``m``, and how many unexpected rows/values it found."""
    import great_expectations as gx

    from credit_dw.quality import suites
    from credit_dw.quality.masking import CLEAR_ID_REGEX

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_postgres("w", connection_string=url).add_table_asset("m", table_name="m")
    if variant == "per_column":
        expectations = [gx.expectations.ExpectColumnValuesToNotMatchRegex(column=c, regex=CLEAR_ID_REGEX)
                        for c in columns]
    else:
        expectations = [suites.no_clear_id_expectation(columns, ("record_id",))]
    suite = context.suites.add(gx.ExpectationSuite(name=variant, expectations=expectations))
    definition = context.validation_definitions.add(gx.ValidationDefinition(
        name=variant, data=asset.add_batch_definition_whole_table("whole"), suite=suite))
    started = time.perf_counter()
    run = definition.run(result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10})
    seconds = time.perf_counter() - started
    found = sum((r.result or {}).get("unexpected_count") or (r.result or {}).get("observed_value") or 0
                for r in run.results)
    return seconds, found


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=300_000)
    p.add_argument("--columns", type=int, default=25)
    p.add_argument("--out", type=Path, default=harness.PROJECT_ROOT / "benchmarks" / "results")
    p.add_argument("--name", default="leak_check.json")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
