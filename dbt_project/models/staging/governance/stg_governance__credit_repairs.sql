with

source as (

    select * from {{ source('governance', 'credit_repair') }}

),

renamed as (

    select
        repair_id,
        record_id,
        approved_at,
        approved_by,
        basis,
        effective_on

    from source

)

select * from renamed
