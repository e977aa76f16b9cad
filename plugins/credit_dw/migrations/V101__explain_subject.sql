-- history.explain_subject(subject, as_of, known_at): why a subject had its grade, its joint-list
-- entries and its records on a date, as the warehouse knew it at a moment (issue 12). One jsonb
-- document; `credit-dw explain` prints the same document. Analysts call it without reading the
-- history, governance or quality tables themselves (security definer, owned by transformer).

-- What the published marts showed of one subject on as_of, as known at known_at.
create function history.subject_rows_as_of(p_subject_key text, p_as_of date, p_known_at timestamptz)
returns setof history.mart_row_version
language sql stable
as $$
    select *
    from history.mart_row_version as v
    where v.subject_key = p_subject_key
      and v.valid_from <= p_as_of and (v.valid_to is null or v.valid_to > p_as_of)
      and v.recorded_at <= p_known_at and (v.superseded_at is null or v.superseded_at > p_known_at)
$$;

-- Free text (objection bases, decisions) may quote an ID number: masked as the marts mask it
-- (dbt macro mask_person_ids, credit_dw.quality.masking.CLEAR_ID_REGEX).
create function history.mask_ids(p_text text) returns text
language sql immutable
as $$
    select regexp_replace(
        regexp_replace(p_text,
            '(?<![0-9A-Za-z])([0-9]{4})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])', '\1**********\2', 'g'),
        '(?<![0-9A-Za-z])([0-9]{4})[0-9]{7}([0-9]{4})(?![0-9A-Za-z])', '\1*******\2', 'g')
$$;

create function history.explain_subject(
    p_subject text,
    p_as_of date default (now() at time zone 'Asia/Shanghai')::date,
    p_known_at timestamptz default now()
) returns jsonb
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
with

-- the subject by USCC (any case) or subject key, as shown on the date
subject as (
    select v.subject_key, v.content
    from history.mart_row_version as v
    where v.mart = 'dim_credit_subject'
      and (v.row_key = p_subject or v.content ->> 'uscc' = upper(btrim(p_subject)))
      and v.valid_from <= p_as_of and (v.valid_to is null or v.valid_to > p_as_of)
      and v.recorded_at <= p_known_at and (v.superseded_at is null or v.superseded_at > p_known_at)
    order by v.valid_from desc
    limit 1
),

shown as (
    select r.* from subject cross join lateral history.subject_rows_as_of(subject.subject_key, p_as_of, p_known_at) as r
),

records as (
    select r.row_key as record_id, r.content, r.valid_from as shown_since
    from shown as r where r.mart = 'fct_credit_record'
),

-- each version of a record up to the date, kept where its status or dispute flag changed
status_history as (
    select record_id, jsonb_agg(jsonb_build_object(
               'from', valid_from, 'to', valid_to, 'status', status, 'is_disputed', is_disputed,
               'status_since', status_since) order by valid_from) as versions
    from (
        select v.row_key as record_id, v.valid_from, v.valid_to,
               v.content ->> 'status' as status, (v.content ->> 'is_disputed')::boolean as is_disputed,
               v.content ->> 'status_since' as status_since,
               lag(v.content ->> 'status') over w as previous_status,
               lag((v.content ->> 'is_disputed')::boolean) over w as previous_disputed,
               row_number() over w as n
        from history.mart_row_version as v
        join records on records.record_id = v.row_key
        where v.mart = 'fct_credit_record' and v.valid_from <= p_as_of
          and v.recorded_at <= p_known_at and (v.superseded_at is null or v.superseded_at > p_known_at)
        window w as (partition by v.row_key order by v.valid_from)
    ) as versions
    where n = 1 or status is distinct from previous_status or is_disputed is distinct from previous_disputed
    group by record_id
),

objections as (
    select o.record_id, jsonb_agg(jsonb_build_object(
               'objection_id', o.objection_id, 'opened_at', o.opened_at, 'opened_by', o.opened_by,
               'basis', history.mask_ids(o.basis),
               'status', case when o.resolved_at <= p_known_at and o.resolved_at::date <= p_as_of
                              then o.status else 'pending' end,
               'outcome', case when o.resolved_at <= p_known_at and o.resolved_at::date <= p_as_of then o.outcome end,
               'resolved_at', case when o.resolved_at <= p_known_at and o.resolved_at::date <= p_as_of then o.resolved_at end,
               'decision_note', case when o.resolved_at <= p_known_at and o.resolved_at::date <= p_as_of
                                     then history.mask_ids(o.decision_note) end
           ) order by o.opened_at) as items
    from governance.objection as o
    join records on records.record_id = o.record_id
    where o.opened_at <= p_known_at and o.opened_at::date <= p_as_of
    group by o.record_id
),

repairs as (
    select c.record_id, jsonb_agg(jsonb_build_object(
               'repair_id', c.repair_id, 'approved_at', c.approved_at, 'approved_by', c.approved_by,
               'basis', history.mask_ids(c.basis), 'effective_on', c.effective_on) order by c.approved_at) as items
    from governance.credit_repair as c
    join records on records.record_id = c.record_id
    where c.approved_at <= p_known_at and c.approved_at::date <= p_as_of
    group by c.record_id
),

record_docs as (
    select jsonb_agg(
               records.content
               || jsonb_build_object(
                   'shown_since', records.shown_since,
                   'source', jsonb_build_object(
                       'feed', records.content ->> 'feed',
                       'file', coalesce(m.source_file, records.content ->> 'source_file'),
                       'row', records.content -> 'source_row',
                       'batch_id', m.batch_id, 'delivery_date', m.delivery_date, 'loaded_at', m.finished_at,
                       'sha256', m.sha256),
                   'status_history', coalesce(status_history.versions, '[]'::jsonb),
                   'objections', coalesce(objections.items, '[]'::jsonb),
                   'repairs', coalesce(repairs.items, '[]'::jsonb))
               order by (records.content ->> 'status') in ('active', 'disputed', 'corrected') desc,
                        records.content ->> 'decision_date' desc, records.record_id) as items
    from records
    left join quality.batch_manifest as m on m.batch_id = (records.content ->> 'batch_id')::bigint
    left join status_history using (record_id)
    left join objections using (record_id)
    left join repairs using (record_id)
),

rules as (
    select jsonb_agg(rule order by rule ->> 'rule_code') as items
    from (
        select jsonb_build_object(
                   'rule_code', e.content ->> 'rule_code', 'grade', e.content ->> 'rule_grade',
                   'metric', e.content ->> 'metric', 'reason', e.content ->> 'reason',
                   'records', coalesce(jsonb_agg(e.content ->> 'record_id' order by e.content ->> 'record_id')
                                       filter (where e.content ->> 'record_id' is not null), '[]'::jsonb)) as rule
        from shown as e
        where e.mart = 'subject_grade_evidence'
        group by e.content ->> 'rule_code', e.content ->> 'rule_grade', e.content ->> 'metric', e.content ->> 'reason'
    ) as fired
),

lists as (
    select jsonb_agg(l.content || jsonb_build_object('list', l.mart, 'shown_since', l.valid_from)
                     order by l.mart, l.row_key) as items
    from shown as l
    where l.mart in ('joint_discipline_list', 'joint_incentive_list')
),

profile as (
    select p.content from shown as p where p.mart = 'subject_credit_profile'
)

select case when subject.subject_key is null then null else jsonb_build_object(
    'subject', subject.content,
    'as_of', p_as_of,
    'known_at', p_known_at,
    'credit_grade', (select content ->> 'credit_grade' from profile),
    'grade_reasons', (select content -> 'grade_reasons' from profile),
    'profile', (select content from profile),
    'rules', coalesce((select items from rules), '[]'::jsonb),
    'joint_lists', coalesce((select items from lists), '[]'::jsonb),
    'records', coalesce((select items from record_docs), '[]'::jsonb)
) end
from (select 1) as one
left join subject on true
$$;

comment on function history.explain_subject(text, date, timestamptz) is
  'Why a subject (USCC or subject key) had its grade, joint-list entries and records on a date, as known at a moment: rules -> records -> catalogue item, window, status history, objections, repairs -> source file and row.';

alter function history.subject_rows_as_of(text, date, timestamptz) owner to transformer;
alter function history.explain_subject(text, date, timestamptz) owner to transformer;
revoke all on function history.explain_subject(text, date, timestamptz) from public;
grant usage on schema history to analyst;
grant execute on function history.explain_subject(text, date, timestamptz) to analyst, steward;
