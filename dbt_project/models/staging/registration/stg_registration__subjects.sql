with

source as (

    select * from {{ source('raw', 'registration') }}

),

renamed as (

    select
        uscc,
        uscc_check_failed,
        name,
        subject_type,
        registration_number,
        replace(organisation_code, '-', '') as organisation_code,
        legal_representative,
        founded_on,
        registering_authority,
        address,
        status as registration_status,
        deregistered_on,
        updated_at,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
