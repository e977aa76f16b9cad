{#- Incremental by natural key, the pattern of every feed table.

    A delivery touches a small share of the natural keys, but "latest version wins" is a window
    over *all* versions of a key. So a feed table reads every version of each key that a batch
    taken since its last build touched (int_night__batches, the batch part of tonight's change
    set), recomputes those keys, and `delete+insert` on `record_id` replaces them. Work is
    proportional to the night's keys, not to the history.

    `also_changed` is an extra SQL condition on the relation that marks a key as touched, e.g. a
    judicial removal recorded on an existing interval. -#}
{% macro rows_of_changed_keys(relation, key, also_changed=none) -%}
    {%- set batches = ref('int_night__batches') -%}
    {%- if is_incremental() %}
    select * from {{ relation }}
    where ({{ key | join(', ') }}) in (
        select {{ key | join(', ') }} from {{ relation }}
        where batch_id in ({{ changed_since_last_build(batches, 'batch_id') }})
        {%- if also_changed %} or {{ also_changed }}{% endif %}
    )
    {%- else %}
    select * from {{ relation }}
    {%- endif %}
{%- endmacro %}


{#- Delivery dates of the batches of one feed taken since this table's last build. -#}
{% macro night_delivery_dates(feed) -%}
    select delivery_date from {{ ref('int_night__batches') }}
    where feed = '{{ feed }}' and changed_at > {{ last_build() }}
{%- endmacro %}
