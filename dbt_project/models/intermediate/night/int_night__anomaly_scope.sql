-- What register_anomalies recomputes, as scope keys stamped with the build that found them:
--   record:<record_id>   every record the lifecycle recomputed; every record of a subject whose
--                        register entry changed tonight (a register change turns a record into,
--                        or out of, uscc_not_in_register, record_after_deregistration or
--                        name_conflict; a record naming an identifier whose USCC changed is
--                        already among the lifecycle's records, reason identifier_mapping); and
--                        every record of a subject in scope that the register does not know
--   subject:<uscc>       subjects whose register entry or records changed, or that a record
--                        left: their register-level rows and, for a USCC the register does not
--                        know, the names its records give it
--   identifiers          the register-wide identifier_ambiguous rows, every night
-- A registered subject's record is checked against the record and the register entry alone, so
-- a registered subject whose records changed does not bring its other records: at 10M records
-- that expansion made 350k scope rows for 61k changed records (155 s).
with

-- import CTEs, not materialized: each use below reads only what it needs, by index
lifecycle as not materialized (

    select * from {{ ref('int_credit_record__lifecycle') }}

),

changed_records as not materialized (

    select * from {{ ref('int_night__changed_records') }}

),

changed_subjects as not materialized (

    select * from {{ ref('int_night__changed_subjects') }}

),

register as not materialized (

    select * from {{ ref('int_registration__latest') }}

),

batches as not materialized (

    select * from {{ ref('int_night__batches') }}

),

registrations as not materialized (

    select * from {{ ref('stg_registration__subjects') }}

),

{% if is_incremental() %}

{%- set since = watermark(this, 'changed_at') -%}

records as (

    select record_id from changed_records where changed_at > {{ since }}

),

-- a record's subject is its USCC whenever it names one (int_credit_record__resolved), so the
-- subject key also finds every record whose name a register change can make a conflict.
-- `= any(array(...))`, not a join: the planner cannot know how few keys a night brings and
-- joined the whole lifecycle (3 s at 1M records for 6k keys; 0.2 s by index this way)
subjects as (

    select subject_key from changed_subjects where changed_at > {{ since }}

    union

    select subject_key from lifecycle
    where record_id = any(array(select record_id from records))
      and subject_key is not null

),

-- the register entries that arrived tonight (as int_night__changed_subjects finds them)
registered_tonight as (

    select uscc as subject_key from registrations
    where batch_id in (select batch_id from batches where changed_at > {{ since }})

),

-- subjects in scope the register does not know (unregistered organisations, and persons): a
-- change to any of their records can change the others' rows (the subject joins or leaves the
-- marts: uscc_not_in_register; the names its records give it)
off_register as (

    select subject_key from subjects
    where not exists (select from registrations where registrations.uscc = subjects.subject_key)

),

scope as (

    select 'record:' || record_id as scope_key from records

    union

    select 'record:' || record_id from lifecycle
    where subject_key = any(array(
        select subject_key from registered_tonight
        union
        select subject_key from off_register
    ))

    union

    select 'subject:' || subject_key from subjects

    union

    select 'identifiers'

),

{% else %}

scope as (

    select 'record:' || record_id as scope_key from lifecycle

    union all

    select 'subject:' || subject_key from (
        select subject_key from lifecycle where subject_key is not null
        union
        select uscc from register
    ) as subjects

    union all

    select 'identifiers'

),

{% endif %}

final as (

    select
        scope_key,
        {{ dbt.current_timestamp() }} as changed_at

    from scope

)

select * from final
