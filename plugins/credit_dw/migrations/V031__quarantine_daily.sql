-- Quarantine counts by feed, delivery day and reason code: the steward's first question about a
-- night ("what was rejected, why, how much") answered in SQL; the report's trend reads the same.
-- A row with several reason codes counts once under each of them.
create view quality.quarantine_daily as
select m.feed,
       m.delivery_date,
       reason.code as reason_code,
       count(*)    as rows_rejected,
       count(distinct r.batch_id) as batches
from quality.rejected_rows r
join quality.batch_manifest m using (batch_id)
cross join lateral unnest(r.reason_codes) as reason(code)
group by m.feed, m.delivery_date, reason.code;

comment on view quality.quarantine_daily is
  'Quarantined rows per feed, delivery date and reason code (see docs/reason-codes.md).';
