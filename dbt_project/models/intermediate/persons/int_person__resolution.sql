-- Masked person key → the subject it resolves to: the clear-ID person's keyed hash when a link
-- applies (confident, or accepted by a steward), else itself. One row per masked person that has
-- any candidate link. Incremental against itself: a build writes only the persons whose
-- resolution differs from the table's, so `built_at` says when a person's subject last moved,
-- and the change set (int_night__changed_records) re-resolves just their records.
with

links as (

    select * from {{ ref('int_person__link_candidates') }}

),

resolved as (

    select
        person_key,
        coalesce(max(id_hash) filter (where is_applied), person_key) as subject_key,
        max(link_id) filter (where is_applied) as link_id,
        case when bool_or(is_applied) then 'linked' else 'unlinked' end as resolution

    from links
    group by person_key

),

{% if is_incremental() %}
changed as (

    select resolved.*
    from resolved
    left join {{ this }} as previous on previous.person_key = resolved.person_key
    where previous.person_key is null
       or previous.subject_key is distinct from resolved.subject_key
       or previous.link_id is distinct from resolved.link_id

),
{% else %}
changed as (

    select * from resolved

),
{% endif %}

final as (

    select *, {{ dbt.current_timestamp() }} as built_at
    from changed

)

select * from final
