-- One credit record per judicial list entry (case + party + list type). The entry's latest
-- interval decides: while the court's snapshot carries it, it is listed; the first snapshot
-- without it is the removal date (a status change, never a deletion). Publicity starts on the
-- court's publish date, or the first snapshot that carried the entry.
with

intervals as (

    {#- an entry also changes when a new snapshot no longer carries it: the merge then records
        removed_on (the snapshot's delivery date) on the existing interval, whose batch_id stays
        that of the first sighting -#}
    {%- set removed_tonight = none -%}
    {%- if is_incremental() -%}
    {%- set removed_tonight -%}
        removed_on in ({{ night_delivery_dates('judicial') }})
    {%- endset %}
    {%- endif %}
    {{ rows_of_changed_keys(ref('stg_judicial__listings'), ['case_code', 'party_key', 'list_type'], removed_tonight) }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by case_code, party_key, list_type
            order by first_seen_on desc, batch_id desc, source_row desc
        ) as recency,
        min(first_seen_on) over (partition by case_code, party_key, list_type) as first_listed_on

    from intervals

),

final as (

    select
        {{ record_id('judicial', ['case_code', 'party_key', 'list_type']) }} as record_id,
        'judicial' as feed,
        'raw.judicial_listing' as source_table,
        array[case_code, party_key, list_type] as natural_key,
        'judicial.' || list_type as record_type,
        party_name,
        case when party_type = '自然人' then 'natural_person' else 'organisation' end as party_category,
        party_uscc,
        null::text as party_registration_number,
        null::text as party_organisation_code,
        null::text as party_tax_number,
        case when party_type = '自然人' then party_key end as party_person_key,
        case when party_type = '自然人' then party_card_masked_or_uscc end as party_id_masked,
        null::text as severity,
        coalesce(registered_on, published_on, first_listed_on) as decision_date,
        coalesce(published_on, first_listed_on) as publicity_start,
        null::date as declared_publicity_end,
        removed_on as ended_on,
        case when removed_on is not null then 'removed' else 'active' end as source_status,
        coalesce(removed_on, first_seen_on) as source_status_since,
        court_name as authority_name,
        concat_ws('；', disrupt_type, duty, performance) as summary,
        batch_id,
        source_file,
        source_row,
        {{ dbt.current_timestamp() }} as built_at

    from ranked
    where recency = 1

)

select * from final
