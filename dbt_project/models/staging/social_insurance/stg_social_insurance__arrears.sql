with

source as (

    select * from {{ source('raw', 'social_insurance_arrears') }}

),

renamed as (

    select
        department_code,
        document_number,
        insurance_type,
        unit_name,
        uscc,
        arrears_cny,
        arrears_from,
        arrears_to,
        document_type,
        department as department_name,
        decided_on as decision_date,
        status as arrears_status,
        updated_on,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
