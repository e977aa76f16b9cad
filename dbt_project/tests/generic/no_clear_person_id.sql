{#- Rows whose column contains something shaped like a clear 18-character resident ID
    (regex \d{17}[\dX] with a plausible birth date), i.e. personal data that must be masked. -#}
{% test no_clear_person_id(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} ~ '[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]'
{% endtest %}
