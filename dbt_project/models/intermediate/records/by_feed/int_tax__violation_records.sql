-- One credit record per major tax violation (authority code + decision number), latest version
-- wins. Removal from publication (CCRQ, or status 已撤出 after full payment) ends it early.
with

violations as (

    {{ rows_of_changed_keys(ref('stg_tax__violations'), ['authority_code', 'decision_number']) }}

),

batches as (

    select * from {{ ref('stg_quality__batches') }}

),

latest as (

    {{ latest_version('violations', ['authority_code', 'decision_number']) }}

),

final as (

    select
        {{ record_id('tax', ['latest.authority_code', 'latest.decision_number']) }} as record_id,
        'tax' as feed,
        'raw.tax_violation' as source_table,
        array[latest.authority_code, latest.decision_number] as natural_key,
        'tax.major_violation' as record_type,
        latest.taxpayer_name as party_name,
        case when latest.taxpayer_number ~ '^[0-9a-f]{64}$' then 'natural_person' else 'organisation' end
            as party_category,
        latest.taxpayer_uscc as party_uscc,
        null::text as party_registration_number,
        null::text as party_organisation_code,
        case
            when latest.taxpayer_uscc is null and latest.taxpayer_number !~ '^[0-9a-f]{64}$' then latest.taxpayer_number
        end as party_tax_number,
        -- an individual business keyed by its owner's resident ID (or that ID + 2 digits): the
        -- loader kept only HMACs; the owner's is the person's key in every feed
        case when latest.taxpayer_number ~ '^[0-9a-f]{64}$'
            then coalesce(latest.taxpayer_id_hash, latest.taxpayer_number) end as party_person_key,
        null::text as party_id_masked,
        null::text as severity,
        latest.published_on as decision_date,
        latest.published_on as publicity_start,
        null::date as declared_publicity_end,
        case
            when latest.removed_on is not null then latest.removed_on
            when latest.publication_status = '已撤出' then batches.delivery_date
        end as ended_on,
        case
            when latest.removed_on is not null or latest.publication_status = '已撤出' then 'removed'
            else 'active'
        end as source_status,
        coalesce(latest.removed_on, batches.delivery_date) as source_status_since,
        latest.authority_name,
        concat_ws('；', latest.case_nature, latest.handling) as summary,
        latest.batch_id,
        latest.source_file,
        latest.source_row,
        {{ dbt.current_timestamp() }} as built_at

    from latest
    inner join batches on batches.batch_id = latest.batch_id

)

select * from final
