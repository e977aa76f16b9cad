{#- Unit tests may take a seed's rows from its CSV file (`- input: ref('seed')` without rows);
    dbt then passes empty cells as '' (its csv fixtures turn them into null, seed files do not),
    so `cast('' as date)` fails. A real seed load makes empty cells null: do the same here.
    dbt.safe_cast is otherwise unused by this project's models. -#}
{% macro postgres__safe_cast(field, type) -%}
    {%- if field == "''" -%}
        cast(null as {{ type }})
    {%- else -%}
        cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
