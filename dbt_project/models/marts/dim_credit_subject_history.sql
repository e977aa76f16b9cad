-- Names and registration statuses over time (SCD2 from the snapshot): one row per version,
-- valid_from inclusive, valid_to exclusive (null for the current version).
with

snapshot as (

    select * from {{ ref('subject_registration_snapshot') }}
    -- only the versions of subjects whose register entry changed can have been added or closed
    where {{ in_change_set('uscc', 'int_night__changed_subjects', 'subject_key') }}

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
