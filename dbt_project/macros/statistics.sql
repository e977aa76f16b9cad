{#- Planner statistics for a table this build just wrote: analysed in the build's transaction
    when it never was (a first build, a full refresh) or when this build changed more than
    50 + 10 % of its rows (autovacuum's own threshold), so plans downstream and analysts'
    queries after the publish swap never wait for autovacuum to come by, or for nothing on a
    server that runs without it. The slow drift of many small nights is autovacuum's part.

    Only this transaction's changes count (pg_stat_get_xact_*): the cumulative
    n_mod_since_analyze cannot be used, because the rows of the transaction that analyses are
    added to it at commit, so every table analysed at its build would be analysed again the
    next night. A night that rewrites 1 % of a mart leaves its statistics as they were: the
    seven marts' analyses had cost 3 s of the 1M-record night. -#}
{% macro analyze_if_stale(relation=this) -%}
do $analyze$
begin
    if exists (
        select
        from pg_stat_user_tables as stats
        inner join pg_class as class on class.oid = stats.relid
        where stats.relid = '{{ relation.include(database=false) }}'::regclass
          and (coalesce(stats.last_analyze, stats.last_autoanalyze) is null
               or pg_stat_get_xact_tuples_inserted(stats.relid)
                  + pg_stat_get_xact_tuples_updated(stats.relid)
                  + pg_stat_get_xact_tuples_deleted(stats.relid)
                  > 50 + 0.1 * greatest(class.reltuples, 0))
    ) then
        analyze {{ relation.include(database=false) }};
    end if;
end
$analyze$
{%- endmacro %}
