with

source as (

    select * from {{ source('governance', 'objection') }}

),

renamed as (

    select
        objection_id,
        record_id,
        opened_at,
        opened_by,
        basis,
        status as objection_status,
        outcome,
        resolved_at,
        resolved_by,
        decision_note

    from source

)

select * from renamed
