{#- Rows whose column is not a valid USCC per GB 32100-2015 (nulls pass). -#}
{% test valid_uscc(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ uscc_is_valid(column_name) }}
{% endtest %}
