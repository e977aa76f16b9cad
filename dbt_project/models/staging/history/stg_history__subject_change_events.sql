with

source as (

    select * from {{ source('history', 'subject_change_event') }}

),

renamed as (

    select
        event_id,
        night,
        run_id,
        subject_key,
        event_type,
        record_id,
        from_value,
        to_value,
        recorded_at

    from source

)

select * from renamed
