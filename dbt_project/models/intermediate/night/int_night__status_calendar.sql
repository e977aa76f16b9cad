-- One row per record: its subject, whether it belongs in the fact on the as-of date, and the
-- next date on which its status (or whether it counts as in force, is published, is retained)
-- can change. A build rewrites the records whose lifecycle changed and the records whose next
-- date has come (read by index), and stamps them: that is what the fact and public_disclosure
-- recompute. A record past retention stays here with in_fact false: its departure is a change.
with

-- import CTEs, not materialized: each use below reads only what it needs, by index
lifecycle as not materialized (

    select * from {{ ref('int_credit_record__lifecycle') }}

),

changed_records as not materialized (

    select * from {{ ref('int_night__changed_records') }}

),

{% if is_incremental() %}

due as (

    select record_id from changed_records
    where changed_at > {{ watermark(this, 'changed_at') }}

    union

    select record_id from {{ this }}
    where next_status_change_on <= {{ as_of_date() }}

),

previous as (

    select record_id, subject_key from {{ this }}

),

records as (

    select lifecycle.* from lifecycle inner join due using (record_id)

),

{% else %}

records as (

    select * from lifecycle

),

{% endif %}

dated as (

    select
        record_id,
        subject_key,
        catalogue_item is not null
            and (retention_end is null or retention_end >= {{ as_of_date() }}) as in_fact,
        -- the days a status can change on (macros/credit_record_status.sql), the day a record
        -- starts to count as in force, and the day after its retention ends
        least(
            case when ended_on > {{ as_of_date() }} then ended_on end,
            case when repaired_on > {{ as_of_date() }} then repaired_on end,
            case when publicity_end + 1 > {{ as_of_date() }} then publicity_end + 1 end,
            case when coalesce(publicity_start, decision_date) > {{ as_of_date() }} then coalesce(publicity_start, decision_date) end,
            case when retention_end + 1 > {{ as_of_date() }} then retention_end + 1 end
        ) as next_status_change_on

    from records

),

final as (

    select
        dated.record_id,
        dated.subject_key,
        {% if is_incremental() -%}
        case when previous.subject_key is distinct from dated.subject_key then previous.subject_key end
        {%- else -%}
        null::text
        {%- endif %} as previous_subject_key,
        dated.in_fact,
        dated.next_status_change_on,
        {{ as_of_date() }} as as_of,
        {{ dbt.current_timestamp() }} as changed_at

    from dated
    {% if is_incremental() -%}
    left join previous using (record_id)
    {%- endif %}

)

select * from final
