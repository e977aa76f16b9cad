-- One row per credit subject: every registered USCC, and every subject a retained record was
-- resolved to (organisations outside the register, natural persons by keyed hash). Organisations
-- take their current name, type and status from the register (else from their latest record);
-- region comes from USCC positions 3-8, or for persons the area digits their masked ID shows.
with

registered as (

    select * from {{ ref('int_registration__latest') }}
    where {{ in_change_set('uscc', 'int_night__changed_subjects', 'subject_key') }}

),

records as (

    select * from {{ ref('fct_credit_record') }}
    where subject_key is not null
      and {{ in_change_set('subject_key', 'int_night__changed_subjects', 'subject_key') }}

),

uscc_categories as (

    select * from {{ ref('uscc_subject_categories') }}

),

-- the latest record per subject stands in for subjects the register does not know
latest_record as (

    select *
    from (
        select
            subject_key,
            subject_category,
            party_name,
            party_id_masked,
            decision_date,
            row_number() over (
                partition by subject_key
                order by decision_date desc, batch_id desc, source_row desc
            ) as recency,
            min(decision_date) over (partition by subject_key) as first_record_on
        from records
    ) as ranked
    where recency = 1

),

subjects as (

    select
        coalesce(registered.uscc, latest_record.subject_key) as subject_key,
        coalesce(latest_record.subject_category, 'organisation') as subject_category,
        registered.uscc is not null as in_register,
        registered.uscc,
        registered.uscc_check_failed,
        latest_record.party_id_masked,
        coalesce(registered.name, latest_record.party_name) as name,
        registered.subject_type as registered_subject_type,
        registered.registration_status,
        registered.registration_number,
        registered.organisation_code,
        registered.legal_representative,
        registered.founded_on,
        registered.deregistered_on,
        registered.updated_at as registration_updated_at,
        latest_record.first_record_on,
        latest_record.decision_date as latest_record_on

    from registered
    full outer join latest_record on latest_record.subject_key = registered.uscc

),

final as (

    select
        subjects.subject_key,
        subjects.subject_category,
        case when subjects.subject_category = 'organisation' then subjects.subject_key end as uscc,
        subjects.name,
        coalesce(
            subjects.registered_subject_type,
            case when subjects.subject_category = 'natural_person' then '自然人' end,
            uscc_categories.subject_type
        ) as subject_type,
        {{ region_columns('region') }},
        subjects.registration_status,
        subjects.in_register,
        coalesce(subjects.uscc_check_failed, false) as uscc_check_failed,
        subjects.registration_number,
        subjects.organisation_code,
        subjects.legal_representative,
        subjects.founded_on,
        subjects.deregistered_on,
        case when subjects.subject_category = 'natural_person' then subjects.party_id_masked end as id_masked,
        subjects.registration_updated_at,
        subjects.first_record_on,
        subjects.latest_record_on,
        {{ dbt.current_timestamp() }} as built_at

    from subjects
    left join uscc_categories
        on subjects.subject_category = 'organisation'
        and uscc_categories.prefix = substr(subjects.subject_key, 1, 2)
    {{ region_joins(
        "case when subjects.subject_category = 'organisation' then substr(subjects.subject_key, 3, 6)"
        ~ " when subjects.party_id_masked ~ '^[0-9]{4}' then substr(subjects.party_id_masked, 1, 4) || '00' end",
        'region') }}

)

select * from final
