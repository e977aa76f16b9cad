{#- Planner statistics for a table this build just wrote, kept in the build's transaction so
    plans downstream, tonight's tests and analysts' queries after the publish swap never wait
    for autovacuum (or for nothing, on a server that runs without it).

    - Never analysed (a first build, a full refresh) or more than 50 + 10 % of its rows changed
      by this build (autovacuum's own threshold): the whole table is analysed.
    - Otherwise only its watermark column (`built_at` or `changed_at`), from a small sample
      (statistics target 10: 3,000 rows). That column is what the night's reads and tonight's
      tests filter on (`built_at = (select max(built_at) ...)`): left as the full build saw it
      (one value), PostgreSQL expected every row to match and scanned the 1M-row fact with the
      ID regex (0.7 s; 15 ms by index once the column's statistics knew tonight's value). The
      whole table analysed every night had cost the seven marts 3 s of the 1M-record night,
      and 1 % of new rows leaves every other column's statistics as good as they were; their
      slow drift over many nights is autovacuum's part.

    Only this transaction's changes count (pg_stat_get_xact_*): the cumulative
    n_mod_since_analyze cannot be used, because the rows of the transaction that analyses are
    added to it at commit, so every table analysed at its build would count as changed again
    the next night. -#}
{% macro analyze_if_stale(relation=this) -%}
do $analyze$
declare
    target constant regclass := '{{ relation.include(database=false) }}'::regclass;
    watermark text;
    watermark_target integer;
    never_analysed boolean;
    changed_rows float8;
    table_rows float8;
begin
    if (select relkind from pg_class where oid = target) <> 'r' then
        return;  -- the per-audience views share the marts' hooks: nothing to analyse
    end if;
    select attname, attstattarget into watermark, watermark_target
    from pg_attribute
    where attrelid = target and attname in ('built_at', 'changed_at') and not attisdropped
    order by attname
    limit 1;
    if watermark is not null and watermark_target is distinct from 10 then
        execute format('alter table %s alter column %I set statistics 10', target, watermark);
    end if;

    select coalesce(stats.last_analyze, stats.last_autoanalyze) is null,
           pg_stat_get_xact_tuples_inserted(target) + pg_stat_get_xact_tuples_updated(target)
               + pg_stat_get_xact_tuples_deleted(target),
           greatest(class.reltuples, 0)
    into never_analysed, changed_rows, table_rows
    from pg_stat_user_tables as stats
    inner join pg_class as class on class.oid = stats.relid
    where stats.relid = target;

    if never_analysed or changed_rows > 50 + 0.1 * table_rows then
        execute format('analyze %s', target);
    elsif watermark is not null then
        execute format('analyze %s (%I)', target, watermark);
    end if;
end
$analyze$
{%- endmacro %}
