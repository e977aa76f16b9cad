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

-- every identifier a register entry gives (one row per entry and identifier): the map and
-- tonight's identifiers are both read from here
identifiers as not materialized (

    select registrations.batch_id, registrations.uscc, given.identifier_type, given.identifier
    from registrations
    cross join lateral (values
        ('registration_number', registrations.registration_number),
        ('organisation_code', registrations.organisation_code),
        ('organisation_code', case when not registrations.uscc_check_failed then substr(registrations.uscc, 9, 9) end)
    ) as given (identifier_type, identifier)
    where given.identifier is not null

),

{% if is_incremental() %}
-- identifiers the registration batches taken since the last build mention: only their USCC
-- sets can have changed (the batches as an array: read by the raw table's batch index)
changed_identifiers as (

    select distinct identifier from identifiers
    where batch_id = any(array({{ changed_since_last_build('batches', 'batch_id') }}))

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
    {%- if is_incremental() %}
    -- only tonight's identifiers, before grouping: filtering the groups afterwards sorted every
    -- pair of the register (1.5 s for 1,136 identifiers at 1M records)
    where identifier in (select identifier from changed_identifiers)
    {%- endif %}
    group by identifier_type, identifier

)

select * from final
