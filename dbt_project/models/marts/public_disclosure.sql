-- Exactly what may be published on the as-of date (Art. 8, 10): actively public catalogue items
-- whose rule publishes them, inside their publicity window, not revoked, withdrawn, removed,
-- repaired or expired. Disputed records stay, flagged. Natural persons appear by name and
-- masked ID only; no keyed hash, no clear number (free text is masked too).
with

records as (

    select * from {{ ref('fct_credit_record') }}
    where {{ in_change_set('record_id', 'int_night__status_calendar', 'record_id') }}

),

subjects as (

    select * from {{ ref('dim_credit_subject') }}

),

disclosed as (

    select *
    from records
    where is_publishable
      and status in ('active', 'disputed', 'corrected')
      and publicity_start <= {{ as_of_date() }}
      and (publicity_end is null or publicity_end >= {{ as_of_date() }})

),

final as (

    select
        disclosed.record_id,
        disclosed.catalogue_item,
        disclosed.item_name,
        disclosed.art11_category,
        disclosed.subject_category,
        case when disclosed.subject_category = 'organisation' then disclosed.subject_key end as uscc,
        disclosed.party_name as subject_name,
        {{ mask_person_ids('disclosed.party_id_masked') }} as id_masked,
        subjects.region_code,
        subjects.region_name,
        disclosed.severity,
        disclosed.decision_date,
        disclosed.publicity_start,
        disclosed.publicity_end,
        disclosed.authority_name,
        {{ mask_person_ids('disclosed.summary') }} as summary,
        disclosed.status,
        disclosed.is_disputed,
        {{ as_of_date() }} as disclosed_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from disclosed
    left join subjects on subjects.subject_key = disclosed.subject_key

)

select * from final
