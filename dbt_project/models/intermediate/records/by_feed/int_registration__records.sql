-- Registration information is catalogue item REG-BASIC (Art. 11(1)): one record per registered
-- subject, its latest version. Deregistration ends it (and starts its retention period).
with

latest as (

    select * from {{ ref('int_registration__latest') }}
    where uscc in (
        select uscc from ({{ rows_of_changed_keys(ref('stg_registration__subjects'), ['uscc']) }}) as registrations
    )

),

final as (

    select
        {{ record_id('registration', ['uscc']) }} as record_id,
        'registration' as feed,
        'raw.registration' as source_table,
        array[uscc] as natural_key,
        'registration.basic' as record_type,
        name as party_name,
        'organisation' as party_category,
        uscc as party_uscc,
        registration_number as party_registration_number,
        organisation_code as party_organisation_code,
        null::text as party_tax_number,
        null::text as party_person_key,
        null::text as party_id_masked,
        null::text as severity,
        coalesce(founded_on, first_registered_update::date) as decision_date,
        coalesce(founded_on, first_registered_update::date) as publicity_start,
        null::date as declared_publicity_end,
        -- 注销 (deregistered) and 迁出 (moved out of the province) end the record here; 吊销 (licence
        -- revoked) does not: the subject exists until it is deregistered
        case
            when registration_status in ('注销', '迁出') then coalesce(deregistered_on, updated_at::date)
        end as ended_on,
        case when registration_status in ('注销', '迁出') then 'removed' else 'active' end as source_status,
        updated_at::date as source_status_since,
        registering_authority as authority_name,
        concat_ws('；', subject_type, registration_status) as summary,
        batch_id,
        source_file,
        source_row,
        {{ dbt.current_timestamp() }} as built_at

    from latest

)

select * from final
