{#- Names of the models tagged `tag`, from the graph (only at execution: dbt fills `graph` after
    parsing). Used to check a generated list against the tag, never to ref(): a ref found only at
    execution would miss the lineage. -#}
{% macro tagged_models(tag) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and tag in node.tags -%}
                {%- do names.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names | sort) }}
{%- endmacro %}
