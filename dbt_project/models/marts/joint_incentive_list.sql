-- Subjects eligible for joint incentive measures (Art. 6(3)), one row per record that qualifies
-- them: positive information in force (catalogue items of severity 'positive': the A tax rating,
-- commendations, and kept commitments once the commitment feed's catalogue item exists) and no
-- active adverse record (subject_credit_profile.adverse_active = 0, the same definition the credit
-- grade uses). Incremental on tonight's changed subjects: one adverse record takes every row of
-- its subject off.
with

-- tonight's subjects, through their profiles; the fact and the dimension are then read by
-- subject_key, by index. Filtering all three by the change set made PostgreSQL repeat the array
-- inside every index probe of the fact (1,780 probes x a 17k-key array: 7.2 s of the 3M
-- benchmark's night for 272 rows)
profiles as (

    select * from {{ ref('subject_credit_profile') }}
    where {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

records as (

    select * from {{ ref('fct_credit_record') }}

),

subjects as (

    select * from {{ ref('dim_credit_subject') }}

),

positive as (

    select *
    from records
    where severity = 'positive'
      and subject_key is not null
      and status in ('active', 'disputed', 'corrected')
      and coalesce(publicity_start, decision_date) <= {{ as_of_date() }}
      and (publicity_end is null or publicity_end >= {{ as_of_date() }})

),

final as (

    select
        positive.subject_key,
        subjects.subject_category,
        subjects.name as subject_name,
        subjects.uscc,
        subjects.id_masked,
        subjects.region_code,
        positive.record_id,
        positive.catalogue_item,
        positive.item_name,
        positive.authority_name,
        positive.summary as basis,
        coalesce(positive.publicity_start, positive.decision_date) as listed_since,
        positive.publicity_end as listed_until,
        positive.status,
        {{ as_of_date() }} as list_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from positive
    inner join profiles on profiles.subject_key = positive.subject_key
    inner join subjects on subjects.subject_key = positive.subject_key
    where profiles.adverse_active = 0

)

select * from final
