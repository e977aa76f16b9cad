{#- A 15-character (pre-2015) tax registration number is the 6-digit area code followed by the
    9-character organisation code (GB 11714); any other length carries none. The one definition
    of that rule: subject resolution, the change set and the feed tables' index all use it. -#}
{% macro organisation_code_of_tax_number(expr) -%}
    case when length({{ expr }}) = 15 then substr({{ expr }}, 7, 9) end
{%- endmacro %}
