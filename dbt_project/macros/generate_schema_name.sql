{#- Custom schemas are used literally (staging, intermediate, marts_candidate, snapshots), not
    prefixed with the target schema: the publish step swaps marts_candidate and marts by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
