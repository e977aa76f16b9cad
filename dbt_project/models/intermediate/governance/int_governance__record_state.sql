-- Stewards' decisions per record: a pending objection makes the record disputed; the latest
-- upheld objection corrects or withdraws it; an approved repair ends publication on its
-- effective date. changed_at lets the incremental fact pick up decisions taken since last night.
with

objections as (

    select * from {{ ref('stg_governance__objections') }}

),

repairs as (

    select * from {{ ref('stg_governance__credit_repairs') }}

),

objection_state as (

    select
        record_id,
        bool_or(objection_status = 'pending') as has_pending_objection,
        min((opened_at at time zone 'Asia/Shanghai')::date) filter (where objection_status = 'pending')
            as pending_since,
        (array_agg(outcome order by resolved_at desc, objection_id desc)
            filter (where objection_status = 'upheld'))[1] as objection_outcome,
        (array_agg((resolved_at at time zone 'Asia/Shanghai')::date order by resolved_at desc, objection_id desc)
            filter (where objection_status = 'upheld'))[1] as objection_outcome_on,
        max(greatest(opened_at, resolved_at)) as changed_at

    from objections
    group by record_id

),

final as (

    select
        coalesce(objection_state.record_id, repairs.record_id) as record_id,
        coalesce(objection_state.has_pending_objection, false) as has_pending_objection,
        objection_state.pending_since,
        objection_state.objection_outcome,
        objection_state.objection_outcome_on,
        repairs.repair_id,
        repairs.effective_on as repaired_on,
        greatest(objection_state.changed_at, repairs.approved_at) as changed_at

    from objection_state
    full outer join repairs on repairs.record_id = objection_state.record_id

)

select * from final
