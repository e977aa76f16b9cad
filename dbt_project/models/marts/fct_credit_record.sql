{#- Incremental on record_id. marts_candidate may hold an older state after a publish swap (two
    nights behind), so the watermark is read from this table itself: lifecycle rows rewritten
    since it was built (the lifecycle itself tracks feed deliveries, judicial removals,
    stewards' decisions and register changes, with a look-back for late commits), and rows whose
    status moves with the as-of date. A change of the catalogue or rules, or an as-of date
    earlier than the table's, re-evaluates everything. Records past retention leave the table;
    nothing else is ever deleted. -#}
{{
    config(
        materialized='incremental',
        unique_key='record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['record_id'], 'unique': true},
            {'columns': ['subject_key']},
            {'columns': ['decision_date']},
            {'columns': ['catalogue_item', 'status']},
            {'columns': ['retention_end']},
            {'columns': ['built_at']},
            {'columns': ['publicity_start']},
            {'columns': ['status_as_of']},
            {'columns': ['rules_fingerprint']},
        ],
        post_hook=[
            "{{ record_departures('past retention',"
            " 'delete from ' ~ this ~ ' where retention_end < ' ~ as_of_date() ~ ' returning record_id, subject_key') }}",
            "{{ record_departures('not in the catalogue',"
            " 'delete from ' ~ this ~ ' as fct using ' ~ ref('int_credit_record__lifecycle') ~ ' as l'"
            " ~ ' where l.record_id = fct.record_id and l.catalogue_item is null'"
            " ~ ' returning fct.record_id, fct.subject_key') }}",
        ],
    )
}}

with

-- not materialized: referenced several times below; each use should read the lifecycle by index
-- (built_at, record_id) rather than all of it copied into a work table first
records as not materialized (

    select *
    from {{ ref('int_credit_record__lifecycle') }}
    where catalogue_item is not null
      and (retention_end is null or retention_end >= {{ as_of_date() }})

),

{% if is_incremental() %}

previous as (

    select
        max(built_at) as last_built_at,
        max(status_as_of) as last_as_of,
        min(rules_fingerprint) as min_fingerprint,
        max(rules_fingerprint) as max_fingerprint

    from {{ this }}

),

reprocess_all as (

    select
        previous.last_built_at is null
        or previous.min_fingerprint is distinct from current_fingerprint.value
        or previous.max_fingerprint is distinct from current_fingerprint.value
        or previous.last_as_of > {{ as_of_date() }} as flag

    from previous
    -- the whole lifecycle shares one fingerprint once built: read it by index
    cross join (
        select max(rules_fingerprint) as value from {{ ref('int_credit_record__lifecycle') }}
    ) as current_fingerprint

),

affected as (

    -- exactly after the last build: the lifecycle is written by this pipeline (incremental_keys.sql)
    select records.record_id from records cross join previous
    where records.built_at > previous.last_built_at

    union

    select record_id from {{ this }}
    where {{ credit_record_status(as_of_date()) }} is distinct from status

    union

    -- publicity that started since: the status stays, but the subject marts count it from today
    select fct.record_id from {{ this }} as fct cross join previous
    where coalesce(fct.publicity_start, fct.decision_date) > previous.last_as_of
      and coalesce(fct.publicity_start, fct.decision_date) <= {{ as_of_date() }}

),

affected_ids as (

    select distinct record_id from affected

),

{% endif %}

selected as (

    {{ all_or_affected('records') }}

),

-- The subject a rewritten record had before, when it changes: the subject marts then refresh
-- the subject it left as well as the one it joined.
{% if is_incremental() %}
before as (

    select record_id, subject_key as previous_subject_key from {{ this }}

),
{% endif %}

statused as (

    select
        *,
        {{ credit_record_status(as_of_date()) }} as status

    from selected

),

final as (

    select
        statused.record_id,
        feed,
        record_type,
        subject_key,
        subject_category,
        subject_resolution,
        party_name,
        party_id_masked,
        catalogue_edition,
        catalogue_item,
        item_name,
        art11_category,
        public_attribute,
        severity,
        is_publishable,
        joint_discipline,
        rule_version,
        decision_date,
        publicity_start,
        publicity_end,
        earliest_repair_on,
        repairable,
        early_repair_allowed,
        retention_end,
        status,
        {{ credit_record_status_since('status', as_of_date()) }} as status_since,
        has_pending_objection or source_status = 'disputed' as is_disputed,
        source_status,
        ended_on,
        has_pending_objection,
        objection_outcome,
        repaired_on,
        authority_name,
        {{ mask_person_ids('summary') }} as summary,
        batch_id,
        source_file,
        source_row,
        {{ as_of_date() }} as status_as_of,
        rules_fingerprint,
        {% if is_incremental() -%}
        case
            when before.previous_subject_key is distinct from statused.subject_key then before.previous_subject_key
        end
        {%- else -%}
        null::text
        {%- endif %} as previous_subject_key,
        {{ dbt.current_timestamp() }} as built_at

    from statused
    {% if is_incremental() -%}
    left join before on before.record_id = statused.record_id
    {%- endif %}

)

select * from final
