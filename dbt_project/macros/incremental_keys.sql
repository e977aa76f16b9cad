{#- Incremental by natural key, the pattern of every record model.

    A nightly delivery touches a small share of the natural keys. Latest-version selection is a
    window over *all* versions of a key, so it cannot simply read the new rows: instead the
    model reads every version of each key that a new batch touched (`rows_of_changed_keys`),
    recomputes those keys, and `delete+insert` on `record_id` replaces them. Work is proportional
    to the night's keys, not to the history (benchmarks/build.py).

    "New" batches are those finished after this table was last built, minus
    `incremental_lookback_hours`: a load that committed while the previous build ran is seen the
    next night. Recomputing a key twice gives the same row, so the overlap is harmless. -#}

{#- For events written outside dbt (batches finishing, stewards' decisions): their timestamps are
    taken before they commit, so look back `incremental_lookback_hours` behind the last build. -#}
{% macro watermark(relation=this) -%}
    {{ built_since(relation) }} - interval '{{ var("incremental_lookback_hours") }} hours'
{%- endmacro %}


{#- For rows another model of the same pipeline wrote: exactly after this table's last build. A
    model's transaction starts after its parents committed, so an upstream row either has an
    older built_at and was read by that build, or a newer one and is read now. A look-back
    here would re-read the previous night's rewrites every night (the benchmark caught it). -#}
{% macro built_since(relation=this) -%}
    (select coalesce(max(built_at), '-infinity'::timestamptz) from {{ relation }})
{%- endmacro %}


{#- batch_id and delivery_date of the batches a model has not seen yet, optionally of one feed -#}
{% macro new_batches(feed=none) -%}
    select batch_id, delivery_date
    from {{ ref('stg_quality__batches') }}
    where finished_at > {{ watermark() }}
    {%- if feed %} and feed = '{{ feed }}'{% endif %}
{%- endmacro %}


{#- All versions of the keys a new batch touched (incremental), or everything (first build and
    --full-refresh). `also_changed` is an extra SQL condition on the relation that marks a key as
    touched, e.g. a judicial removal recorded on an existing interval. -#}
{% macro rows_of_changed_keys(relation, key, feed, also_changed=none) -%}
    {%- if is_incremental() %}
    select * from {{ relation }}
    where ({{ key | join(', ') }}) in (
        select {{ key | join(', ') }} from {{ relation }}
        where batch_id in (select batch_id from ({{ new_batches(feed) }}) as new_batches)
        {%- if also_changed %} or {{ also_changed }}{% endif %}
    )
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}


{#- Every row of `relation` when the `reprocess` CTE's flag holds, else the rows named by the
    `affected` CTE (record_id); every row outside incremental runs. Two branches of a union, not
    `or record_id in (...)`: an IN over a badly estimated subquery became an unhashed subplan
    run once per record (545 s at 1M records, benchmarks/build.py); a join hashes or probes by
    index. -#}
{% macro all_or_affected(relation, affected='affected_ids', reprocess='reprocess_all') -%}
    {%- if is_incremental() %}
    select {{ relation }}.* from {{ relation }}
    where (select flag from {{ reprocess }})

    union all

    select {{ relation }}.* from {{ relation }}
    inner join {{ affected }} using (record_id)
    where not (select flag from {{ reprocess }})
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}


{#- md5 over whole seeds: a changed row changes it (the lifecycle's rules fingerprint, the
    subject marts' reference fingerprint) -#}
{% macro seed_fingerprint(seeds) -%}
    md5(''
    {%- for seed in seeds %}
        || coalesce((select string_agg(s::text, '|' order by s::text) from {{ ref(seed) }} as s), '')
    {%- endfor %})
{%- endmacro %}
