-- Legacy identifiers that lead to a USCC, learnt from the register: the business registration
-- number (注册号) and the organisation code (GB 11714), either as delivered or as USCC positions
-- 9-17. An identifier that leads to more than one USCC is ambiguous and resolves nothing.
with

registrations as not materialized (

    select * from {{ ref('stg_registration__subjects') }}

),

batches as (

    select * from {{ ref('int_night__batches') }}

),

{% if is_incremental() %}
-- identifiers the registration batches taken since the last build mention: only their USCC
-- sets can have changed (the batches as an array: read by the raw table's batch index)
changed_identifiers as materialized (

    {{ identifiers_of('registrations') }}
      and registrations.batch_id = any(array({{ changed_since_last_build('batches', 'batch_id') }}))

),

-- every register entry that gives one of them, by index (raw.registration: registration_regno,
-- registration_orgcode_clean, registration_uscc_orgcode), so a night reads the entries of its
-- identifiers, not the whole register
entries as (

    select batch_id, uscc, uscc_check_failed, registration_number, organisation_code from registrations
    where registration_number = any(array(select identifier from changed_identifiers))

    union

    select batch_id, uscc, uscc_check_failed, registration_number, organisation_code from registrations
    where organisation_code = any(array(select identifier from changed_identifiers))

    union

    select batch_id, uscc, uscc_check_failed, registration_number, organisation_code from registrations
    where substr(uscc, 9, 9) = any(array(select identifier from changed_identifiers))

),

-- their identifiers, only the changed ones (a hash semi-join: the entries give others too, whose
-- groups would be incomplete here)
identifiers as (

    {{ identifiers_of('entries') }}
      and given.identifier in (select identifier from changed_identifiers)

),
{% else %}
identifiers as (

    {{ identifiers_of('registrations') }}

),
{% endif %}

final as (

    select
        identifier_type,
        identifier,
        case when count(distinct uscc) = 1 then min(uscc) end as uscc,
        count(distinct uscc) as candidate_count,
        count(distinct uscc) > 1 as is_ambiguous,
        {{ dbt.current_timestamp() }} as built_at

    from identifiers
    group by identifier_type, identifier

)

select * from final
