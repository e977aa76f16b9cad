{#- Every seed of the project with the checksum dbt computed of its file, as a relation
    ``(seed_name, checksum)``: the reference data the models are built from now. From dbt's graph,
    so it is known only when executing (empty while parsing). -#}
{% macro seed_checksums(alias='seed_checksums') -%}
    {%- set rows = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | selectattr('resource_type', 'equalto', 'seed') | sort(attribute='name') -%}
            {%- do rows.append("('" ~ node.name ~ "', '" ~ node.checksum.checksum ~ "')") -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if rows -%}
        (values {{ rows | join(', ') }}) as {{ alias }} (seed_name, checksum)
    {%- else -%}
        (select null::text as seed_name, null::text as checksum where false) as {{ alias }}
    {%- endif -%}
{%- endmacro %}
