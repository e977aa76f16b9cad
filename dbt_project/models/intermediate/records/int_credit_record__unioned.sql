-- Every feed's records in one shape. Feed models may carry extra columns for their own marts
-- (e.g. the tax rating level); the union takes the common ones by name. built_at is when the
-- feed table last rewrote the record: what the incremental lifecycle looks for.
{%- set columns = [
    'record_id', 'feed', 'source_table', 'natural_key', 'record_type',
    'party_name', 'party_category', 'party_uscc', 'party_registration_number',
    'party_organisation_code', 'party_tax_number', 'party_person_key', 'party_id_masked',
    'severity', 'decision_date', 'publicity_start', 'declared_publicity_end', 'ended_on', 'source_status',
    'source_status_since', 'authority_name', 'summary', 'batch_id', 'source_file', 'source_row',
    'built_at',
] %}

with

unioned as (

    {% for feed_model in [
        'int_registration__records',
        'int_penalty__records',
        'int_judicial__records',
        'int_tax__violation_records',
        'int_tax__rating_records',
        'int_social_insurance__records',
    ] %}
    select {{ columns | join(', ') }} from {{ ref(feed_model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
