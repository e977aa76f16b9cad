-- What a build covers (the nightly runs unattended): every loaded batch is gated by the feed
-- suites of a build that reached a verdict, whatever triggered the build. Until then it is
-- *pending*, and every build gates all pending batches, so a late delivery is gated by the next
-- build and a batch that failed its gate keeps blocking until it passes or a steward accepts it.

-- Which stage a validation belongs to and every batch it covered (a night may hold several).
alter table quality.validation_run
    add column stage text check (stage in ('feeds', 'marts')),
    add column batch_ids bigint[];
update quality.validation_run
   set stage = case when suite like 'mart\_%' then 'marts' else 'feeds' end,
       batch_ids = case
           when statistics ? 'batch_ids'
               then array(select jsonb_array_elements_text(statistics -> 'batch_ids')::bigint)
           when batch_id is not null then array[batch_id]
       end;
create index validation_run_batch_ids on quality.validation_run using gin (batch_ids);

-- The build's verdict with what it was for and what started it.
alter table quality.publication
    add column as_of date,
    add column run_type text,                                   -- scheduled, asset_triggered, manual, backfill, cli
    add column triggering_events jsonb not null default '[]',   -- [{asset, feed, delivery_date, batch_ids, source_run_id, timestamp}]
    add column gated_batch_ids bigint[] not null default '{}';  -- the pending batches this build's feed gate validated
create index publication_run on quality.publication (run_id);

-- A steward's decision that a batch the feed gate keeps blocking may be published as loaded
-- (its quarantined rows stay quarantined). A decision, so it lives with the other stewards'
-- decisions in governance and is append-only like them (grants in R__grants.sql, trigger here).
create table governance.batch_acceptance (
    acceptance_id   bigint generated always as identity primary key,
    batch_id        bigint not null references quality.batch_manifest,
    accepted_by     text not null,
    reason          text not null,
    accepted_at     timestamptz not null default now()
);

-- Per batch and build: did every feed validation covering the batch pass? Only builds with a
-- verdict count: a build killed half-way has gated nothing.
create view quality.gated_batch as
select covered.batch_id,
       v.run_id,
       bool_and(v.success) as passed,
       max(v.validated_at) as gated_at
from quality.validation_run v
cross join lateral unnest(v.batch_ids) as covered(batch_id)
where v.stage = 'feeds'
  and exists (select 1 from quality.publication p where p.run_id = v.run_id)
group by covered.batch_id, v.run_id;

create view quality.pending_batch as
select m.batch_id, m.feed, m.delivery_date, m.source_file, m.finished_at as loaded_at
from quality.batch_manifest m
where m.status = 'loaded'
  and not exists (select 1 from quality.gated_batch g where g.batch_id = m.batch_id and g.passed)
  and not exists (select 1 from governance.batch_acceptance a where a.batch_id = m.batch_id);

comment on view quality.pending_batch is
  'Loaded batches no build has gated yet (or whose gate failed and no steward accepted): what the next build validates.';

create trigger append_only before update or delete or truncate on governance.batch_acceptance
    for each statement execute function governance.refuse_rewrite();

-- An alert about the same cause (e.g. the same blocked batches) is delivered once, however many
-- builds hit it: the key says what the cause is.
alter table quality.alert add column dedupe_key text;
create index alert_dedupe_key on quality.alert (dedupe_key) where dedupe_key is not null;
