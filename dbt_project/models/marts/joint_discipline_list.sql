-- Subjects currently under joint disciplinary measures (Art. 5(3), 6(3)), one row per record that
-- put them there: catalogue items marked joint_discipline (dishonest judgment debtors,
-- consumption restrictions, major tax violators, serious social insurance dishonesty) in force
-- on the as-of date. A disputed record keeps the measure until the objection is decided.
with

records as (

    select * from {{ ref('fct_credit_record') }}
    where {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

subjects as (

    select * from {{ ref('dim_credit_subject') }}

),

listed as (

    select *
    from records
    where joint_discipline
      and subject_key is not null
      and status in ('active', 'disputed', 'corrected')
      and coalesce(publicity_start, decision_date) <= {{ as_of_date() }}

),

final as (

    select
        listed.subject_key,
        subjects.subject_category,
        subjects.name as subject_name,
        subjects.uscc,
        subjects.id_masked,
        subjects.region_code,
        listed.record_id,
        listed.catalogue_item,
        listed.item_name,
        listed.authority_name,
        listed.summary as basis,
        coalesce(listed.publicity_start, listed.decision_date) as listed_since,
        listed.publicity_end as listed_until,
        listed.status,
        listed.is_disputed,
        {{ as_of_date() }} as list_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from listed
    inner join subjects on subjects.subject_key = listed.subject_key

)

select * from final
