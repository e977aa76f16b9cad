-- The change feed (issue 12): one row per change a night made to what a subject shows. A view
-- over the durable log the publish step writes (history.subject_change_event): the marts are
-- rebuilt every night, the feed accumulates. Identity columns are the published (masked) ones.
{{ config(materialized='view') }}

with

events as (

    select * from {{ ref('stg_history__subject_change_events') }}

),

subjects as (

    select subject_key, subject_category, name, uscc, id_masked from {{ ref('dim_credit_subject') }}

),

final as (

    select
        events.event_id,
        events.night,
        events.subject_key,
        subjects.subject_category,
        subjects.name as subject_name,
        subjects.uscc,
        subjects.id_masked,
        events.event_type,
        events.record_id,
        events.from_value,
        events.to_value,
        events.run_id,
        events.recorded_at

    from events
    left join subjects on subjects.subject_key = events.subject_key

)

select * from final
