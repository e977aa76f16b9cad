{#- The legacy identifiers a register entry gives, one row per entry and identifier: the
    registration number, the organisation code as delivered, and USCC positions 9-17 when the
    USCC's check character is right (`relation`: rows with batch_id, uscc, uscc_check_failed,
    registration_number, organisation_code). Ends in a `where`: callers add `and` conditions.
    int_subject__identifier_map learns the map from them. -#}
{% macro identifiers_of(relation) -%}
    select {{ relation }}.batch_id, {{ relation }}.uscc, given.identifier_type, given.identifier
    from {{ relation }}
    cross join lateral (values
        ('registration_number', {{ relation }}.registration_number),
        ('organisation_code', {{ relation }}.organisation_code),
        ('organisation_code', case when not {{ relation }}.uscc_check_failed then substr({{ relation }}.uscc, 9, 9) end)
    ) as given (identifier_type, identifier)
    where given.identifier is not null
{%- endmacro %}
