-- depends_on: {{ ref('int_registration__latest') }}
-- Names and registration statuses over time (SCD2 from the snapshot): one row per version,
-- valid_from inclusive, valid_to exclusive (null for the current version).
with

snapshot as (

    select * from {{ ref('subject_registration_snapshot') }}
    {%- if is_incremental() %}
    -- the subjects whose register entry changed since this table was built: only their
    -- versions can have been added or closed by the snapshot
    where uscc in (
        select uscc from {{ ref('int_registration__latest') }} where built_at > {{ built_since() }}
    )
    {%- endif %}

),

final as (

    select
        dbt_scd_id as version_id,
        uscc as subject_key,
        name,
        subject_type,
        registration_status,
        legal_representative,
        address,
        registering_authority,
        deregistered_on,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current,
        {{ dbt.current_timestamp() }} as built_at

    from snapshot

)

select * from final
