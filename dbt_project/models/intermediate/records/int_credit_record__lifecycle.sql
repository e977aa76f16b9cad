-- Every record with its catalogue item (edition in force on the as-of date), the publicity rule
-- in force on its decision date, its publicity window, earliest repair date, retention end and
-- the stewards' decisions. Status is not decided here but in fct_credit_record, from these
-- columns and the as-of date. Records outside the catalogue keep catalogue_item null: they are
-- not credit information (Art. 10) and are listed in register_anomalies instead of the fact.
{#- Incremental on record_id (config in _records__models.yml): a night recomputes the records
    of tonight's change set (int_night__changed_records). A changed seed is a deliberate full
    refresh. #}
with

-- not materialized, and the night's keys as one array (in_change_set): PostgreSQL then looks
-- up just the night's records by index in each feed table
resolved as not materialized (

    select * from {{ ref('int_credit_record__resolved') }}

),

catalogue as (

    select *
    from {{ ref('credit_catalogue') }}
    where effective_from <= {{ as_of_date() }}
      and (effective_to is null or effective_to > {{ as_of_date() }})

),

rules as (

    select * from {{ ref('publicity_rules') }}

),

governance as (

    select * from {{ ref('int_governance__record_state') }}

),

records as (

    select * from resolved
    where {{ in_change_set('record_id', 'int_night__changed_records', 'record_id') }}

),

catalogued as (

    select
        records.*,
        catalogue.edition as catalogue_edition,
        catalogue.item_code as catalogue_item,
        catalogue.item_name,
        catalogue.art11_category,
        catalogue.public_attribute,
        catalogue.never_published,
        catalogue.joint_discipline,
        catalogue.publicity_rule_ref,
        catalogue.retention_years,
        catalogue.retention_anchor,
        coalesce(records.severity, catalogue.severity) as effective_severity

    from records
    left join catalogue on catalogue.record_type = records.record_type

),

ruled as (

    select
        catalogued.*,
        rules.rule_version,
        rules.published as rule_published,
        rules.min_months,
        rules.max_months,
        coalesce(rules.repairable, false) as repairable,
        coalesce(rules.early_repair_allowed, false) as early_repair_allowed,
        catalogued.public_attribute = 'actively_public'
            and not catalogued.never_published
            and coalesce(rules.published, false) as is_publishable

    from catalogued
    left join rules
        on rules.rule_ref = catalogued.publicity_rule_ref
        and catalogued.decision_date >= rules.effective_from
        and (rules.effective_to is null or catalogued.decision_date < rules.effective_to)
        and rules.severity in (catalogued.effective_severity, '*')

),

-- the providing department's own publicity end (CF_GSJZQ) counts when the rule in force allows
-- it: not before the minimum period is over, not after the maximum; otherwise the rule's maximum
-- applies and the record is a steward anomaly (declared_end_outside_rule)
declared as (

    select
        ruled.*,
        declared_publicity_end is not null
            and max_months is not null
            and is_publishable
            and declared_publicity_end between
                (publicity_start + make_interval(months => coalesce(min_months, 0)) - interval '1 day')::date
                -- "one year from 1 Aug" is commonly declared as 1 Aug of the next year: allowed
                and (publicity_start + make_interval(months => max_months))::date
            as declared_end_in_rule

    from ruled

),

windowed as (

    select
        declared.*,
        declared_publicity_end is not null and max_months is not null and is_publishable
            and not declared_end_in_rule as declared_end_outside_rule,
        case when is_publishable then publicity_start end as window_start,
        case
            when not is_publishable then null
            when declared_end_in_rule then declared_publicity_end
            when max_months is not null
                then (publicity_start + make_interval(months => max_months) - interval '1 day')::date
            -- listed until the source removed it; a same-day removal still shows one day
            when ended_on is not null then greatest(ended_on - 1, publicity_start)
        end as window_end,
        case
            when is_publishable and repairable
                then (publicity_start + make_interval(months => coalesce(min_months, 0)))::date
        end as earliest_repair_on

    from declared

),

final as (

    select
        windowed.record_id,
        windowed.feed,
        windowed.source_table,
        windowed.natural_key,
        windowed.record_type,
        windowed.subject_key,
        windowed.subject_category,
        windowed.subject_resolution,
        windowed.unresolved_reason,
        windowed.party_name,
        windowed.party_uscc,
        windowed.party_registration_number,
        windowed.party_organisation_code,
        windowed.party_tax_number,
        windowed.party_id_masked,
        windowed.catalogue_edition,
        windowed.catalogue_item,
        windowed.item_name,
        windowed.art11_category,
        windowed.public_attribute,
        coalesce(windowed.never_published, false) as never_published_item,
        windowed.effective_severity as severity,
        windowed.is_publishable,
        coalesce(windowed.joint_discipline, false) as joint_discipline,
        windowed.rule_version,
        windowed.repairable,
        windowed.early_repair_allowed,
        windowed.decision_date,
        windowed.window_start as publicity_start,
        windowed.window_end as publicity_end,
        windowed.declared_publicity_end,
        windowed.declared_end_outside_rule,
        windowed.earliest_repair_on,
        case
            when windowed.retention_anchor = 'end' then
                (windowed.ended_on + make_interval(years => windowed.retention_years))::date
            else
                (coalesce(least(windowed.ended_on, windowed.window_end + 1), windowed.decision_date)
                    + make_interval(years => windowed.retention_years))::date
        end as retention_end,
        windowed.source_status,
        windowed.source_status_since,
        windowed.ended_on,
        coalesce(governance.has_pending_objection, false) as has_pending_objection,
        governance.pending_since,
        governance.objection_outcome,
        governance.objection_outcome_on,
        governance.repaired_on,
        governance.changed_at as governance_changed_at,
        windowed.authority_name,
        windowed.summary,
        windowed.batch_id,
        windowed.source_file,
        windowed.source_row,
        {{ dbt.current_timestamp() }} as built_at

    from windowed
    left join governance on governance.record_id = windowed.record_id

)

select * from final
