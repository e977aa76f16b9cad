-- Why a subject has its grade, to the record: one row per rule that fired and record that made it
-- fire (a rule with no record behind it, such as "no adverse record", has one row without a
-- record). Read by `credit-dw explain` through the history of the published marts.
with

profiles as (

    select subject_key, credit_grade, grade_reasons
    from {{ ref('subject_credit_profile') }}
    where grade_reasons is not null
      and {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

rules as (

    select * from {{ ref('credit_grade_rules') }}

),

fired as (

    select
        profiles.subject_key,
        profiles.credit_grade,
        split_part(reason.text, ' ', 1) as rule_code,
        reason.text as reason

    from profiles
    cross join lateral unnest(profiles.grade_reasons) as reason (text)

),

records as (

    select
        *,
        row_number() over (
            partition by subject_key, record_type like 'tax.rating%'
            order by decision_date desc, record_id
        ) as recency

    from {{ ref('fct_credit_record') }}
    where subject_key is not null
      and {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}
      and status in ('active', 'disputed', 'corrected')
      and coalesce(publicity_start, decision_date) <= {{ as_of_date() }}

),

evidence as (

    select
        fired.subject_key,
        fired.credit_grade,
        fired.rule_code,
        rules.grade as rule_grade,
        rules.metric,
        fired.reason,
        records.record_id,
        records.catalogue_item

    from fired
    inner join rules on rules.rule_code = fired.rule_code
    left join records
        on records.subject_key = fired.subject_key
        and {{ grade_metric_evidence('rules.metric') }}
        -- a tax rating rule looks at the latest rating only
        and (records.record_type not like 'tax.rating%' or records.recency = 1)

),

final as (

    select
        subject_key,
        credit_grade,
        rule_code,
        rule_grade,
        metric,
        reason,
        record_id,
        catalogue_item,
        {{ as_of_date() }} as evidence_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from evidence

)

select * from final
