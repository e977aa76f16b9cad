with

source as (

    select * from {{ source('raw', 'tax_violation') }}

),

renamed as (

    select
        authority_code,
        decision_number,
        taxpayer_number,
        taxpayer_uscc,
        taxpayer_id_hash,
        name as taxpayer_name,
        legal_rep_name,
        legal_rep_id_masked,
        case_nature,
        facts,
        handling,
        authority_name,
        published_on,
        removed_on,
        status as publication_status,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
