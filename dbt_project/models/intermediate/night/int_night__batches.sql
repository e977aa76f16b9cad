-- The loaded batches, each stamped with the build that first took it. A batch is new to a feed
-- table when it was taken after that table's last build: no time window, so a load that commits
-- while a build runs is simply taken by the next one.
with

batches as (

    select * from {{ ref('stg_quality__batches') }}
    where batch_status = 'loaded'

),

final as (

    select
        batch_id,
        feed,
        delivery_date,
        {{ dbt.current_timestamp() }} as changed_at

    from batches
    {%- if is_incremental() %}
    where not exists (select from {{ this }} as taken where taken.batch_id = batches.batch_id)
    {%- endif %}

)

select * from final
