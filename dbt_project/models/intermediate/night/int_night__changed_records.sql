-- Records whose inputs changed since this table's last build, and why: the feed tables rewrote
-- them (new or corrected rows, judicial removals), the stewards decided on them, a legacy
-- identifier they carry now leads elsewhere in the register, the masked person they name now
-- resolves to another subject (a link applied, accepted or rejected), the catalogue edition in force
-- changed for their record type, or the as-of date went back (then every record). What the
-- lifecycle recomputes; stamped with this build's time and as-of date.
with

-- import CTEs, not materialized: each use below reads only what it needs, by index
records as not materialized (

    select * from {{ ref('int_credit_record__unioned') }}

),

stewards as not materialized (

    select * from {{ ref('int_governance__record_state') }}

),

identifier_map as not materialized (

    select * from {{ ref('int_subject__identifier_map') }}

),

person_resolution as not materialized (

    select * from {{ ref('int_person__resolution') }}

),

catalogue as (

    select * from {{ ref('credit_catalogue') }}

),

{% if is_incremental() %}

{#- literals (macros/night.sql `watermark`), so the planner sees how few rows are newer -#}
{%- set since = watermark(this, 'changed_at') -%}
{%- set since_as_of = previous_as_of() -%}

-- identifiers whose USCC set the register changed since
identifiers as (

    select identifier from identifier_map
    where built_at > {{ since }}

),

-- masked persons whose subject moved since
persons as (

    select person_key from person_resolution
    where built_at > {{ since }}

),

-- record types whose catalogue item changes between the last as-of date and tonight's
catalogue_moved as (

    select record_type from catalogue
    where effective_from > {{ since_as_of }} and effective_from <= {{ as_of_date() }}
       or effective_to > {{ since_as_of }} and effective_to <= {{ as_of_date() }}

),

changes as (

    select record_id, 'delivered' as reason from records
    where built_at > {{ since }}

    union all

    -- written outside dbt while a build may be running: look back a little (recomputing twice is harmless)
    select record_id, 'stewards_decision' from stewards
    where changed_at > {{ since }} - interval '{{ var("incremental_lookback_hours") }} hours'

    union all

    -- one lookup per identifier column, not `a in (...) or b in (...)`: an OR of subqueries cannot
    -- use the indexes, and once the changed identifiers outgrew work_mem PostgreSQL tested every
    -- record against each of them (a 3M-record night stalled here). `= any(array(...))`, not a
    -- join: a join let the planner sort the whole union of feed tables for ~1k identifiers
    -- (2 s at 1M records); the array goes down to each feed table's identifier index
    select record_id, 'identifier_mapping' from (
        select record_id from records
        where party_registration_number = any(array(select identifier from identifiers))
        union
        select record_id from records
        where party_organisation_code = any(array(select identifier from identifiers))
        union
        select record_id from records
        where {{ organisation_code_of_tax_number('party_tax_number') }} = any(array(select identifier from identifiers))
    ) as mapped

    union all

    -- `= any(array(...))` for the same reason: down to each feed table's person-key index
    select record_id, 'person_link' from records
    where party_person_key = any(array(select person_key from persons))

    union all

    -- (both checks below are decided once, before any record is read)
    select record_id, 'catalogue_edition' from records
    where exists (select from catalogue_moved) and record_type in (select record_type from catalogue_moved)

    union all

    select record_id, 'as_of_date_earlier' from records
    where {{ as_of_date() }} < {{ since_as_of }}

),

{% else %}

changes as (

    select record_id, 'full_refresh' as reason from records

),

{% endif %}

final as (

    select
        record_id,
        array_agg(distinct reason order by reason) as reasons,
        {{ as_of_date() }} as as_of,
        {{ dbt.current_timestamp() }} as changed_at

    from changes
    group by record_id

)

select * from final
