{#- Rows whose column is not a valid USCC per GB 32100-2015 (nulls pass). With
    allow_register_anomalies, codes the register itself carries with a failing check (accepted
    there with a flag, DOMAIN §2) pass too; anywhere else a failing code is an error. -#}
{% test valid_uscc(model, column_name, allow_register_anomalies=false) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ uscc_is_valid(column_name) }}
  {% if allow_register_anomalies %}
  and {{ column_name }} not in (
      select uscc from {{ ref('stg_registration__subjects') }} where uscc_check_failed
  )
  {% endif %}
{% endtest %}
