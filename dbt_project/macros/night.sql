{#- Tonight's change set (models/intermediate/night/): the one incremental idiom of the project.

    Each change-set model is a small keyed table whose `changed_at` says when a build last found
    the key changed: int_night__batches (batches), int_night__changed_records and
    int_night__status_calendar (records), int_night__changed_subjects (subjects). Every
    incremental model `ref`s one of them and recomputes the keys changed since its own last build
    (`changed_since_last_build`), so a table that is several builds behind (marts_candidate after
    a publish swap, a model that failed last night) catches up with all of them, and a table
    that is up to date reads only tonight's keys, by index.

    Models whose rows can disappear (the fact when a record passes retention, the marts when a
    record stops being published or a subject leaves) use the `change_set` strategy below: dbt's
    delete+insert, except that the delete covers every key of the change set, not only the keys
    the model returned. First builds and --full-refresh simply select everything. -#}


{#- The newest `column` of `relation` as a literal, read when the model runs (`empty` when the
    relation holds no rows). Every caller is inside `is_incremental()` or checks that the
    relation exists.

    Why a literal, not the subquery `(select max(...) from relation)`: PostgreSQL plans a
    comparison with a subquery's result blind, at a fixed third of the rows, so "changed since
    the last build" was planned as a scan of every change-set row and every feed record (at 10M
    records: 11.5M change-set rows and a sequential scan of each feed table, night after night).
    Given the value, the planner reads the night's few keys through the `changed_at` and
    `built_at` indexes. -#}
{% macro watermark(relation, column, type='timestamptz', empty="'-infinity'", newest_by=none) -%}
    {%- if execute -%}
    {%- if newest_by -%}
    {#- `column` of the row newest by `newest_by` (an indexed column) instead of max(column) -#}
    {%- set query = 'select ' ~ column ~ '::text from ' ~ relation ~ ' order by ' ~ newest_by ~ ' desc limit 1' -%}
    {%- else -%}
    {%- set query = 'select max(' ~ column ~ ')::text from ' ~ relation -%}
    {%- endif -%}
    {%- set values = run_query(query).columns[0].values() -%}
    {%- if values | length == 0 or values[0] is none -%}{{ empty }}::{{ type }}{%- else -%}'{{ values[0] }}'::{{ type }}{%- endif -%}
    {%- else -%}
    {{ empty }}::{{ type }}
    {%- endif -%}
{%- endmacro %}


{#- When this table was last built: every change-set key stamped later is news to it. -#}
{% macro last_build(relation=this) -%}
    {{ watermark(relation, 'built_at') }}
{%- endmacro %}


{#- The keys of a change-set model changed since this table's last build (a subquery). -#}
{% macro changed_since_last_build(change_set, key, relation=this) -%}
    select {{ key }} from {{ change_set }} where changed_at > {{ last_build(relation) }}
{%- endmacro %}


{#- SQL condition for a model's input: `column` is in the night's scope (everything outside
    incremental runs). The change set is `ref`'d here, outside the branch, so lineage always
    shows it.

    `= any(array(...))`, not `in (...)`: the keys become one array computed first, which
    PostgreSQL pushes into every scan below the model's views and unions as an index condition.
    As a semi-join it was planned after them: the lifecycle resolved all 1.15M records of the
    1M benchmark to keep 6,100 (1.36 s; 0.09 s by index). Every `column` it is used on is
    indexed in the relation it filters, so a large night stays a series of index probes. -#}
{% macro in_change_set(column, change_set, key) -%}
    {%- set change_set_relation = ref(change_set) -%}
    {%- if is_incremental() -%}
    {{ column }} = any(array({{ changed_since_last_build(change_set_relation, key) }}))
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}


{#- incremental_strategy: change_set. Config: `change_set` (the change-set model) and
    `change_set_key` (its key column in this table; default unique_key). Deletes the rows of
    every key changed since this table's last build (first, so the watermark is read before
    anything is deleted), then the rows the model rewrites, then inserts the model's rows, all in
    the model's transaction. Two joined deletes, not one `where a in (...) or b in (...)`: an OR
    of two subqueries cannot be a join, and PostgreSQL then tested every row of the table against
    an unhashed subquery result (the 1M fact's nightly delete ran for minutes). -#}
{% macro get_incremental_change_set_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set key = config.get('change_set_key') or unique_key -%}
    {%- set change_set = ref(config.require('change_set')) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as target
    using ({{ changed_since_last_build(change_set, key, target) }}) as changed
    where target.{{ key }} = changed.{{ key }};
    delete from {{ target }} as target
    using {{ arg_dict['temp_relation'] }} as rewritten
    where target.{{ unique_key }} = rewritten.{{ unique_key }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}


{#- The as-of date the change-set model was last built for (null on its first build).

    The as-of date of the newest row, found through the `changed_at` index, not `max(as_of)`,
    which scanned the whole change set (11.5M rows at 10M records) every night. It is also the
    truer answer: a build whose as-of date goes back rewrites every record it still reads, but a
    record that has left the feeds keeps its row and the later as-of date it was built for. -#}
{% macro previous_as_of(relation=this) -%}
    {{ watermark(relation, 'as_of', 'date', 'null', newest_by='changed_at') }}
{%- endmacro %}
