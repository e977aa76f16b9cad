with

source as (

    select * from {{ source('quality', 'batch_manifest') }}

),

renamed as (

    select
        batch_id,
        feed,
        delivery_date,
        source_file,
        status as batch_status,
        started_at,
        finished_at

    from source

)

select * from renamed
