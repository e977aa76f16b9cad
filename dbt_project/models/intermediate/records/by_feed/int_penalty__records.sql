-- One credit record per penalty decision (authority code + decision number), latest version
-- wins in delivery order: U corrections replace the content, D (and legacy CF_ZT 1) revokes the
-- decision, which ends publication on the day the revocation arrived. Nothing is deleted.
-- Warning-only decisions and decisions taken under the simplified procedure are not published
-- (catalogue item PEN-WARNING): the standard has no procedure field, so the procedure is read
-- from markers in the decision number, content or legal basis (seed penalty_simplified_markers),
-- and counts only when the penalty types and the fine are within what that procedure allows.
with

decisions as (

    {{ rows_of_changed_keys(ref('stg_penalty__decisions'), ['authority_code', 'decision_number']) }}

),

batches as (

    select * from {{ ref('stg_quality__batches') }}

),

penalty_types as (

    select * from {{ ref('penalty_types') }}

),

safety_markers as (

    select * from {{ ref('penalty_safety_markers') }}

),

simplified_markers as (

    select * from {{ ref('penalty_simplified_markers') }}

),

simplified_limits as (

    select * from {{ ref('penalty_simplified_limits') }}

),

latest_versions as (

    {{ latest_version('decisions', ['authority_code', 'decision_number']) }}

),

latest as (

    select
        *,
        case
            when party_uscc is not null
                or party_registration_number is not null
                or party_organisation_code is not null then 'organisation'
            when party_type = '自然人' or party_id_hash is not null then 'natural_person'
            else 'organisation'
        end as party_category

    from latest_versions

),

-- a decision with several penalty types takes the most severe one (the longest period)
type_severity as (

    select
        latest.authority_code,
        latest.decision_number,
        max(case penalty_types.severity when 'serious' then 3 when 'ordinary' then 2 when 'minor' then 1 end)
            as severity_rank,
        bool_and(coalesce(penalty_types.not_published_alone, false)) as warning_only,
        bool_and(coalesce(penalty_types.simplified_procedure, false)) as simplified_types_only

    from latest
    cross join lateral unnest(latest.penalty_types) as t(penalty_type)
    left join penalty_types on penalty_types.penalty_type = t.penalty_type
    group by latest.authority_code, latest.decision_number

),

safety as (

    select distinct latest.authority_code, latest.decision_number

    from latest
    inner join safety_markers
        on (safety_markers.matched_field = 'authority_name' and strpos(latest.authority_name, safety_markers.marker) > 0)
        or (safety_markers.matched_field = 'offence_type' and strpos(latest.offence_type, safety_markers.marker) > 0)

),

simplified as (

    select distinct latest.authority_code, latest.decision_number

    from latest
    inner join simplified_markers
        on (simplified_markers.matched_field = 'decision_number' and strpos(latest.decision_number, simplified_markers.marker) > 0)
        or (simplified_markers.matched_field = 'content' and strpos(latest.content, simplified_markers.marker) > 0)
        or (simplified_markers.matched_field = 'legal_basis' and strpos(latest.legal_basis, simplified_markers.marker) > 0)
    inner join simplified_limits
        on simplified_limits.party_category = latest.party_category
        and coalesce(latest.fine_cny, 0) <= simplified_limits.max_fine_cny
    inner join type_severity
        on type_severity.authority_code = latest.authority_code
        and type_severity.decision_number = latest.decision_number
        and type_severity.simplified_types_only
    where coalesce(latest.confiscation_cny, 0) = 0

),

final as (

    select
        {{ record_id('penalty', ['latest.authority_code', 'latest.decision_number']) }} as record_id,
        'penalty' as feed,
        'raw.penalty' as source_table,
        array[latest.authority_code, latest.decision_number] as natural_key,
        case
            when type_severity.warning_only or simplified.authority_code is not null then 'penalty.warning_only'
            when safety.authority_code is not null then 'penalty.safety'
            else 'penalty.general'
        end as record_type,
        latest.party_name,
        latest.party_category,
        latest.party_uscc,
        latest.party_registration_number,
        latest.party_organisation_code,
        latest.party_tax_number,
        latest.party_id_hash as party_person_key,
        latest.party_id_masked,
        case type_severity.severity_rank when 3 then 'serious' when 2 then 'ordinary' when 1 then 'minor' end
            as severity,
        latest.decision_date,
        latest.decision_date as publicity_start,
        latest.publicity_end_declared as declared_publicity_end,
        case when latest.operation = 'D' or latest.legacy_status = '1' then batches.delivery_date end as ended_on,
        case
            when latest.operation = 'D' or latest.legacy_status = '1' then 'revoked'
            when latest.legacy_status = '2' then 'disputed'
            when latest.operation = 'U' then 'corrected'
            else 'active'
        end as source_status,
        batches.delivery_date as source_status_since,
        latest.authority_name,
        concat_ws('；',
            coalesce(latest.offence_type, latest.penalty_name),
            nullif(array_to_string(latest.penalty_types, '、'), ''),
            latest.content
        ) as summary,
        latest.batch_id,
        latest.source_file,
        latest.source_row,
        {{ dbt.current_timestamp() }} as built_at

    from latest
    inner join batches on batches.batch_id = latest.batch_id
    left join type_severity
        on type_severity.authority_code = latest.authority_code
        and type_severity.decision_number = latest.decision_number
    left join safety
        on safety.authority_code = latest.authority_code
        and safety.decision_number = latest.decision_number
    left join simplified
        on simplified.authority_code = latest.authority_code
        and simplified.decision_number = latest.decision_number

)

select * from final
