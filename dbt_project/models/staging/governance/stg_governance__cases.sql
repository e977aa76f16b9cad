with

source as (

    select * from {{ source('governance', 'case_state') }}

),

renamed as (

    select
        case_id,
        case_type,
        record_id,
        received_on,
        applicant,
        state as case_state,
        accepted_on,
        decided_on,
        decision,
        feedback_on

    from source

)

select * from renamed
