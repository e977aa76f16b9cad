-- Candidate person links for stewards (`credit-dw identity review`): every link with its
-- confidence, evidence and status. pending links wait for a decision; auto links applied by
-- themselves and may still be rejected; accepted / rejected show the latest decision. Masked
-- IDs only: the clear numbers never leave the restricted schema.
with

links as (

    select * from {{ ref('int_person__link_candidates') }}

),

final as (

    select
        link_id,
        person_key,
        id_hash as linked_subject_key,
        masked_id,
        person_name,
        candidate_count,
        confidence,
        evidence,
        link_status,
        link_status = 'pending' as is_pending,
        is_applied,
        decision_reason,
        decided_by,
        decided_at,
        built_at

    from links

)

select * from final
