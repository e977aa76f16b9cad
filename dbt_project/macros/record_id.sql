{#- record_id = md5(feed || '|' || natural key parts joined by '|'): the architecture contract.
    Stable across rebuilds and full refreshes because it depends only on the natural key. -#}
{% macro record_id(feed, parts) -%}
    md5({{ (["'" ~ feed ~ "'"] + parts) | join(" || '|' || ") }})
{%- endmacro %}
