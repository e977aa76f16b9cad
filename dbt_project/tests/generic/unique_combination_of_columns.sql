{#- Uniqueness of a column combination (what dbt_utils.unique_combination_of_columns does; the
    project installs no packages so that it builds offline). -#}
{% test unique_combination_of_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
