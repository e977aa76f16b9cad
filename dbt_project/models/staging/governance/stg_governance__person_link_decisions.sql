with

source as (

    select * from {{ source('governance', 'person_link_decision') }}

),

renamed as (

    select
        decision_id,
        link_id,
        person_key,
        id_hash,
        decision,
        reason as decision_reason,
        decided_by,
        decided_at

    from source

)

select * from renamed
