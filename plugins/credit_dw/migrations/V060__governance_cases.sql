-- Objections and credit repair applications as cases (Art. 7(7)): an intake row per case and
-- one row per state change. Nothing is ever updated: a decision is a new event row, so the
-- history of a case cannot be rewritten (V061 adds the grants and triggers that enforce it).
--
--   received (the case row) ──accepted──▶ under review ──decided──▶ decided ──feedback_sent──▶ closed
--          └──────────refused (not accepted, with reasons)──────────▶ closed
--
-- The deadlines of each stage come from the dbt seed case_deadlines (working days); the steward
-- model case_deadlines lists cases near or past them.

create table governance.case_intake (
    case_id             bigint generated always as identity primary key,
    case_type           text not null check (case_type in ('objection', 'repair')),
    record_id           text not null,            -- marts.fct_credit_record.record_id
    received_on         date not null,            -- intake date (deadlines run from here)
    applicant           text not null,            -- who applies: the subject or its agent
    materials_ref       text,                     -- where the application's materials are filed
    basis               text not null,            -- what the applicant says, on what evidence
    providing_department text,                    -- the authority that provided the record
    opened_by           text not null,            -- the steward who recorded the intake
    opened_at           timestamptz not null default now()
);
create index case_intake_record on governance.case_intake (record_id);

create table governance.case_event (
    event_id            bigint generated always as identity primary key,
    case_id             bigint not null references governance.case_intake,
    event               text not null check (event in ('accepted', 'refused', 'decided', 'feedback_sent')),
    occurred_on         date not null,
    recorded_by         text not null,
    recorded_at         timestamptz not null default now(),
    decision            text check (decision in ('upheld', 'rejected', 'approved', 'refused')),
    outcome             text check (outcome in ('corrected', 'withdrawn')),
    reasons             text,
    corrected_content   jsonb,                    -- the corrected fields of an upheld objection
    effective_on        date,                     -- an approved repair ends publication on this day
    feedback_to         text,                     -- the providing department told of the outcome
    feedback_ref        text,                     -- the letter / message reference
    constraint decided_has_decision check ((event = 'decided') = (decision is not null)),
    constraint reasons_given check (event not in ('refused', 'decided') or coalesce(reasons, '') <> ''),
    constraint outcome_only_when_upheld check (outcome is null or decision = 'upheld'),
    constraint upheld_has_outcome check (decision is distinct from 'upheld' or outcome is not null),
    constraint content_only_when_corrected check (corrected_content is null or outcome = 'corrected'),
    constraint corrected_has_content check (outcome is distinct from 'corrected' or corrected_content is not null),
    constraint effective_only_when_approved check (effective_on is null or decision = 'approved'),
    constraint approved_has_effective_date check (decision is distinct from 'approved' or effective_on is not null),
    constraint feedback_names_department check (event <> 'feedback_sent' or coalesce(feedback_to, '') <> '')
);
-- each step happens once per case: a decision cannot be taken twice
create unique index case_event_once on governance.case_event (case_id, event);

-- The current state of every case, derived from its events.
create view governance.case_state as
select
    c.case_id,
    c.case_type,
    c.record_id,
    c.received_on,
    c.applicant,
    c.materials_ref,
    c.basis,
    c.providing_department,
    c.opened_by,
    c.opened_at,
    case
        when f.event_id is not null or r.event_id is not null then 'closed'
        when d.event_id is not null then 'decided'
        when a.event_id is not null then 'under_review'
        else 'received'
    end as state,
    a.occurred_on as accepted_on,
    r.occurred_on as refused_on,
    d.occurred_on as decided_on,
    coalesce(d.decision, case when r.event_id is not null then 'not_accepted' end) as decision,
    d.outcome,
    coalesce(d.reasons, r.reasons) as reasons,
    d.corrected_content,
    d.effective_on,
    coalesce(d.recorded_by, r.recorded_by) as decided_by,
    coalesce(d.recorded_at, r.recorded_at) as decided_at,
    f.occurred_on as feedback_on,
    f.feedback_to,
    f.feedback_ref
from governance.case_intake c
left join governance.case_event a on a.case_id = c.case_id and a.event = 'accepted'
left join governance.case_event r on r.case_id = c.case_id and r.event = 'refused'
left join governance.case_event d on d.case_id = c.case_id and d.event = 'decided'
left join governance.case_event f on f.case_id = c.case_id and f.event = 'feedback_sent';

-- Existing decisions become cases (objections keep their ids; repairs get new ones).
insert into governance.case_intake (case_id, case_type, record_id, received_on, applicant, basis, opened_by, opened_at)
overriding system value
select objection_id, 'objection', record_id, (opened_at at time zone 'Asia/Shanghai')::date, opened_by, basis,
       opened_by, opened_at
from governance.objection;
insert into governance.case_event (case_id, event, occurred_on, recorded_by, recorded_at, decision, outcome, reasons,
                                   corrected_content)
select objection_id, 'decided', (resolved_at at time zone 'Asia/Shanghai')::date, resolved_by, resolved_at, status,
       outcome, coalesce(nullif(decision_note, ''), '(migrated without reasons)'),
       case when outcome = 'corrected' then '{}'::jsonb end
from governance.objection where status <> 'pending';
select setval(pg_get_serial_sequence('governance.case_intake', 'case_id'),
              coalesce((select max(case_id) from governance.case_intake), 0) + 1, false);
with migrated as (
    insert into governance.case_intake (case_type, record_id, received_on, applicant, basis, opened_by, opened_at)
    select 'repair', record_id, (approved_at at time zone 'Asia/Shanghai')::date, approved_by, basis, approved_by,
           approved_at
    from governance.credit_repair
    returning case_id, record_id, opened_by, opened_at
)
insert into governance.case_event (case_id, event, occurred_on, recorded_by, recorded_at, decision, reasons, effective_on)
select m.case_id, 'decided', r.effective_on, m.opened_by, m.opened_at, 'approved', r.basis, r.effective_on
from migrated m join governance.credit_repair r using (record_id);

drop table governance.objection;
drop table governance.credit_repair;

-- The decisions dbt applies (sources governance.objection / governance.credit_repair), as before.
create view governance.objection as
select
    case_id as objection_id,
    record_id,
    opened_at,
    opened_by,
    basis,
    case when decision in ('upheld', 'rejected') then decision
         when decision = 'not_accepted' then 'rejected'
         else 'pending' end as status,
    outcome,
    decided_at as resolved_at,
    decided_by as resolved_by,
    reasons as decision_note,
    corrected_content
from governance.case_state
where case_type = 'objection';

create view governance.credit_repair as
select
    case_id as repair_id,
    record_id,
    decided_at as approved_at,
    decided_by as approved_by,
    basis,
    effective_on
from governance.case_state
where case_type = 'repair' and decision = 'approved';

comment on table governance.case_intake is 'Objection and credit repair cases (intake); state changes in governance.case_event.';
comment on table governance.case_event is 'State changes of cases, append-only: accepted, refused, decided, feedback_sent.';
