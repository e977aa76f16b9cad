{#- The latest version of each natural key: one row per `key`, the first by `order_by` (by
    default the latest delivery, then the last row in the file). Feeds deliver corrections as new
    rows, so "latest version wins" is the same window in every record model; the `recency` column
    (always 1) stays in the output like the hand-written form had it. -#}
{% macro latest_version(relation, key, order_by=['batch_id desc', 'source_row desc']) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key | join(', ') }}
                order by {{ order_by | join(', ') }}
            ) as recency
        from {{ relation }}
    ) as ranked
    where recency = 1
{%- endmacro %}
