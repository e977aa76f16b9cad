with

source as (

    select * from {{ source('raw', 'tax_rating') }}

),

renamed as (

    select
        taxpayer_number,
        taxpayer_uscc,
        taxpayer_id_hash,
        name as taxpayer_name,
        rating_year,
        rating_level,
        rated_on,
        batch_id,
        source_file,
        source_row

    from source

)

select * from renamed
