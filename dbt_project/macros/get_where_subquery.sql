{#- Data tests on large relations look at the rows the night wrote (dbt's documented hook for
    templating a test's `where`: override get_where_subquery).

    Tests configured with `where: rows_of_the_night` (all of them, dbt_project.yml) see:
      - tables with `built_at` (the incremental ones): the rows of the latest build, i.e.
        every row after a full refresh, the night's recomputed keys after an incremental one;
        views with `built_at` (over those tables): the rows their latest builds wrote;
      - staging views over raw (`batch_id`): the rows of the batches finished in the 24 hours
        before the latest batch, i.e. the night's deliveries;
      - anything else (seeds, small tables rebuilt whole): every row.
    Rows a test does not see again were tested the night they were written and have not changed
    since (raw rows are immutable, the incremental tables rewrite every row they change), and
    record_id uniqueness over whole tables is enforced at every write by their unique indexes.
    Re-testing the whole history each night made the tests alone cost more than a full build's
    models (benchmarks/build.py). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where == 'rows_of_the_night' -%}
        {%- set where = rows_of_the_night(relation) -%}
    {%- endif -%}
    {%- if where -%}
        (select * from {{ relation }} where {{ where }}) dbt_subquery
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- The filter is resolved into literals before the test runs (the latest built_at, the night's
    batch ids): with constants the planner sees how few rows qualify and reads them by index
    (built_at and batch_id are indexed); a subquery in the filter got a scan of every row. -#}
{% macro rows_of_the_night(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {#- a ref() does not say whether it is a table; the catalogue does -#}
    {%- set existing = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
    {%- if 'built_at' in columns -%}
        {%- set latest = run_query("select max(built_at)::text from " ~ relation).columns[0].values()[0] -%}
        {%- if latest is none -%}
            {{ return(none) }}
        {%- elif existing is not none and existing.is_table -%}
            {#- one build writes a table in one transaction: its rows share that build's built_at -#}
            {{ return("built_at = '" ~ latest ~ "'::timestamptz") }}
        {%- else -%}
            {#- a view over several tables (the union of the feed tables): their builds of one run
                lie minutes apart, never an hour -#}
            {{ return("built_at >= '" ~ latest ~ "'::timestamptz - interval '1 hour'") }}
        {%- endif -%}
    {%- elif 'batch_id' in columns and relation.identifier != 'stg_quality__batches' -%}
        {#- the manifest by name, not ref(): a test may not declare a dependency at run time -#}
        {%- set manifest = api.Relation.create(database=target.database, schema='quality', identifier='batch_manifest') -%}
        {%- set batches = run_query(
            "select coalesce(string_agg(batch_id::text, ','), '') from " ~ manifest
            ~ " where finished_at >= (select max(finished_at) from " ~ manifest ~ ") - interval '24 hours'"
        ).columns[0].values()[0] -%}
        {{ return("batch_id in (" ~ batches ~ ")" if batches else "false") }}
    {%- else -%}
        {{ return(none) }}
    {%- endif -%}
{%- endmacro %}
