-- Subjects whose dimension row, profile, joint-discipline rows or history may differ since this
-- table's last build: a record of theirs was rewritten in the calendar (new, corrected, status
-- date reached, departed), a record moved away from them, or their register entry changed.
with

-- import CTEs, not materialized: each use below reads only what it needs, by index
calendar as not materialized (

    select * from {{ ref('int_night__status_calendar') }}

),

batches as not materialized (

    select * from {{ ref('int_night__batches') }}

),

registrations as not materialized (

    select * from {{ ref('stg_registration__subjects') }}

),

register as not materialized (

    select * from {{ ref('int_registration__latest') }}

),

{% if is_incremental() %}

{%- set since = watermark(this, 'changed_at') -%}

changed as not materialized (

    select * from calendar where changed_at > {{ since }}

),

changes as (

    select subject_key from changed where subject_key is not null

    union

    select previous_subject_key from changed where previous_subject_key is not null

    union

    select uscc from registrations
    where batch_id in (select batch_id from batches where changed_at > {{ since }})

),

{% else %}

changes as (

    select subject_key from calendar where subject_key is not null

    union

    select uscc from register

),

{% endif %}

final as (

    select
        subject_key,
        {{ dbt.current_timestamp() }} as changed_at

    from changes

)

select * from final
