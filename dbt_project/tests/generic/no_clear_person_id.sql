{#- Rows whose column contains what may be a clear personal ID: a standalone run of 17 digits +
    digit/X, or of 15 digits (the pattern of the marts' quality gate, CLEAR_ID_REGEX). -#}
{% test no_clear_person_id(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} ~ '(?<![0-9A-Za-z])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])'
{% endtest %}
