{#- Incremental on record_id (config in fct_credit_record.yml): a night recomputes the records
    tonight's status calendar stamped (int_night__status_calendar: their lifecycle changed, or a
    day on which their status can change has come) and deletes those that left (past retention,
    out of the catalogue). Nothing else is ever deleted. #}
with

records as (

    select *
    from {{ ref('int_credit_record__lifecycle') }}
    where catalogue_item is not null
      and (retention_end is null or retention_end >= {{ as_of_date() }})
      and {{ in_change_set('record_id', 'int_night__status_calendar', 'record_id') }}

),

statused as (

    select
        *,
        {{ credit_record_status(as_of_date()) }} as status

    from records

),

final as (

    select
        statused.record_id,
        feed,
        record_type,
        subject_key,
        subject_category,
        subject_resolution,
        party_name,
        party_id_masked,
        catalogue_edition,
        catalogue_item,
        item_name,
        art11_category,
        public_attribute,
        severity,
        is_publishable,
        joint_discipline,
        rule_version,
        decision_date,
        publicity_start,
        publicity_end,
        earliest_repair_on,
        repairable,
        early_repair_allowed,
        retention_end,
        status,
        {{ credit_record_status_since('status', as_of_date()) }} as status_since,
        has_pending_objection or source_status = 'disputed' as is_disputed,
        source_status,
        ended_on,
        has_pending_objection,
        objection_outcome,
        repaired_on,
        authority_name,
        {{ mask_person_ids('summary') }} as summary,
        batch_id,
        source_file,
        source_row,
        {{ as_of_date() }} as status_as_of,
        {{ dbt.current_timestamp() }} as built_at

    from statused

)

select * from final
