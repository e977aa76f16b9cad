{#- Records the lifecycle recomputes tonight (its pre-hook keeps them in a temporary table):
    rewritten in a feed table since the lifecycle's last build, with a stewards' decision since
    then (with the look-back: written outside dbt), or carrying a legacy identifier whose USCC
    set the register changed. -#}
{% macro lifecycle_changes() -%}
    select record_id from {{ ref('int_credit_record__unioned') }}
    where built_at > {{ built_since() }}

    union

    select record_id from {{ ref('int_governance__record_state') }}
    where changed_at > {{ watermark() }}

    union

    select record_id from {{ this }}
    where party_registration_number in ({{ _changed_identifiers() }})

    union

    select record_id from {{ this }}
    where party_organisation_code in ({{ _changed_identifiers() }})

    union

    select record_id from {{ this }}
    where length(party_tax_number) = 15
      and substr(party_tax_number, 7, 9) in ({{ _changed_identifiers() }})
{%- endmacro %}


{% macro _changed_identifiers() -%}
    select identifier from {{ ref('int_subject__identifier_map') }} where built_at > {{ built_since() }}
{%- endmacro %}
