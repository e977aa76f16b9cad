{#- Join the GB/T 2260 seed for a six-digit division code at the most specific level it knows:
    the code itself, else its city (first four digits + 00), else its province. Emits three left
    joins aliased <prefix>_exact/_city/_province; select with region_columns(prefix). -#}
{% macro region_joins(code_expr, prefix) -%}
    left join {{ ref('admin_divisions') }} as {{ prefix }}_exact
        on {{ prefix }}_exact.division_code = {{ code_expr }}
    left join {{ ref('admin_divisions') }} as {{ prefix }}_city
        on {{ prefix }}_city.division_code = substr({{ code_expr }}, 1, 4) || '00'
    left join {{ ref('admin_divisions') }} as {{ prefix }}_province
        on {{ prefix }}_province.division_code = substr({{ code_expr }}, 1, 2) || '0000'
{%- endmacro %}

{% macro region_columns(prefix) -%}
    coalesce({{ prefix }}_exact.division_code, {{ prefix }}_city.division_code, {{ prefix }}_province.division_code) as region_code,
    coalesce({{ prefix }}_exact.division_name, {{ prefix }}_city.division_name, {{ prefix }}_province.division_name) as region_name,
    coalesce({{ prefix }}_exact.city_name, {{ prefix }}_city.city_name, {{ prefix }}_province.city_name) as city_name,
    coalesce({{ prefix }}_exact.province_name, {{ prefix }}_city.province_name, {{ prefix }}_province.province_name) as province_name
{%- endmacro %}
