-- One row per delivered file: the unit of loading, skipping and reconciliation.
create table quality.batch_manifest (
    batch_id        bigint generated always as identity primary key,
    feed            text not null,
    delivery_date   date not null,
    source_file     text not null,            -- path relative to LANDING_ROOT
    file_size       bigint not null,
    sha256          text not null,
    encoding        text,                     -- detected encoding (utf-8, utf-8-sig, gb18030, xlsx)
    field_set       text,                     -- e.g. current / legacy for penalty
    rows_read       integer not null default 0,
    rows_loaded     integer not null default 0,
    rows_rejected   integer not null default 0,
    rows_warned     integer not null default 0,
    status          text not null check (status in ('loaded', 'failed')),
    message         text,
    started_at      timestamptz not null,
    finished_at     timestamptz not null default now(),
    -- reconciliation is a constraint, not a hope: nothing is lost
    constraint rows_reconcile check (status = 'failed' or rows_read = rows_loaded + rows_rejected)
);
-- a content hash loads once per feed; failed attempts may repeat
create unique index batch_manifest_loaded_once on quality.batch_manifest (feed, sha256) where status = 'loaded';
create index batch_manifest_feed_date on quality.batch_manifest (feed, delivery_date);

-- One row per quarantined record, verbatim, with where it came from and why.
create table quality.rejected_rows (
    rejected_id     bigint generated always as identity primary key,
    batch_id        bigint not null references quality.batch_manifest on delete cascade,
    feed            text not null,
    source_file     text not null,
    source_row      integer not null,         -- 1-based data row (CSV: physical line of record start; XLSX: sheet row)
    reason_codes    text[] not null,
    message         text not null,            -- names the field and what to do
    raw_record      text not null             -- verbatim (personal IDs inside are masked)
);
create index rejected_rows_batch on quality.rejected_rows (batch_id);
create index rejected_rows_feed_reason on quality.rejected_rows (feed);

-- Every GX validation, also of failed runs.
create table quality.validation_run (
    validation_id   bigint generated always as identity primary key,
    suite           text not null,
    target          text not null,            -- table validated
    run_id          text not null,            -- Airflow run id or CLI run id
    batch_id        bigint,                   -- feed validations: the batch; marts: null
    success         boolean not null,
    evaluated       integer not null,
    successful      integer not null,
    statistics      jsonb not null,
    failed_expectations jsonb not null,       -- [{expectation, column, kwargs, sample_unexpected}]
    validated_at    timestamptz not null default now()
);
create index validation_run_run on quality.validation_run (run_id);

create table quality.alert (
    alert_id        bigint generated always as identity primary key,
    raised_at       timestamptz not null default now(),
    dag_id          text,
    task_id         text,
    run_id          text,
    severity        text not null default 'error',
    summary         text not null,
    detail          jsonb not null default '{}'::jsonb,
    delivered_to    text                      -- e-mail / webhook target used, if any
);

create table quality.publication (
    publication_id  bigint generated always as identity primary key,
    run_id          text not null,
    published_at    timestamptz not null default now(),
    verdict         text not null check (verdict in ('published', 'blocked')),
    message         text,
    mart_row_counts jsonb not null default '{}'::jsonb
);
