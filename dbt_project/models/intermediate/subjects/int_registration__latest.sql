-- One row per registered USCC: the version with the latest update time wins (GXSJ), ties broken
-- by delivery order. Earlier names and statuses live on in the snapshot history.
with

registrations as (

    {{ rows_of_changed_keys(ref('stg_registration__subjects'), ['uscc']) }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by uscc
            order by updated_at desc, batch_id desc, source_row desc
        ) as recency,
        min(updated_at) over (partition by uscc) as first_registered_update

    from registrations

),

final as (

    select
        uscc,
        uscc_check_failed,
        name,
        subject_type,
        registration_number,
        organisation_code,
        legal_representative,
        founded_on,
        registering_authority,
        address,
        registration_status,
        deregistered_on,
        updated_at,
        first_registered_update,
        batch_id,
        source_file,
        source_row,
        {{ dbt.current_timestamp() }} as built_at

    from ranked
    where recency = 1

)

select * from final
