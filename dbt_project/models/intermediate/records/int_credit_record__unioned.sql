-- Every feed's records in one shape: every model of models/intermediate/records/by_feed
-- (macros/credit_record_models.sql, generated from that folder by `credit-dw feeds sync`; the
-- folder tags them credit_record, checked below). Feed models may carry extra columns for their
-- own marts (e.g. the tax rating level); the union takes the common ones by name. built_at is when the
-- feed table last rewrote the record: what the incremental lifecycle looks for.
{%- set columns = [
    'record_id', 'feed', 'source_table', 'natural_key', 'record_type',
    'party_name', 'party_category', 'party_uscc', 'party_registration_number',
    'party_organisation_code', 'party_tax_number', 'party_person_key', 'party_id_masked',
    'severity', 'decision_date', 'publicity_start', 'declared_publicity_end', 'ended_on', 'source_status',
    'source_status_since', 'authority_name', 'summary', 'batch_id', 'source_file', 'source_row',
    'built_at',
] %}
{%- if execute and tagged_models('credit_record') != credit_record_models() -%}
    {{ exceptions.raise_compiler_error(
        "models tagged credit_record " ~ tagged_models('credit_record') ~ " differ from macros/credit_record_models.sql "
        ~ credit_record_models() ~ ": run `credit-dw feeds sync`") }}
{%- endif %}

with

unioned as (

    {% for feed_model in credit_record_models() %}
    select {{ columns | join(', ') }} from {{ ref(feed_model) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
