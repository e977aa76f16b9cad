-- What subjects were shown, night by night, and what changed (issue 12).
--
-- The marts are rebuilt and swapped every night, so they only know tonight. The publish step
-- (credit_dw.history) keeps, in the same transaction as the swap, a bitemporal copy of every
-- published row: valid time = the as-of dates on which the marts showed that version, and
-- transaction time = when we recorded it and when later knowledge (a rebuild of an earlier
-- date) replaced it. Contents are the published (already masked) mart rows.
create schema if not exists history;

create table history.mart_row_version (
    version_id      bigint generated always as identity primary key,
    mart            text not null,            -- fct_credit_record, subject_credit_profile, ...
    row_key         text not null,            -- the mart's key (record_id, subject_key, ...)
    subject_key     text,
    valid_from      date not null,            -- first as-of date the marts showed this version
    valid_to        date,                     -- exclusive; null = still shown
    recorded_at     timestamptz not null default now(),   -- when we learned it (the publish)
    superseded_at   timestamptz,              -- when a later publish replaced this knowledge
    run_id          text not null,
    content         jsonb not null,
    content_hash    text not null,
    constraint valid_range check (valid_to is null or valid_to > valid_from)
);
-- the current knowledge of a row: what tonight's publish compares with
create index mart_row_version_current on history.mart_row_version (mart, row_key, valid_from)
    where superseded_at is null;
-- explanations: one subject's rows on a date
create index mart_row_version_subject on history.mart_row_version (subject_key, mart, valid_from);
create index mart_row_version_row on history.mart_row_version (row_key, mart);

-- One row per change a night made to what a subject shows; exposed as marts.subject_change_event.
create table history.subject_change_event (
    event_id        bigint generated always as identity primary key,
    night           date not null,            -- the as-of date of the publish
    run_id          text not null,
    subject_key     text not null,
    event_type      text not null check (event_type in (
        'listed', 'removed', 'status_changed', 'repaired', 'disputed', 'grade_changed',
        'entered_joint_discipline', 'left_joint_discipline',
        'entered_joint_incentive', 'left_joint_incentive')),
    record_id       text,
    from_value      text,
    to_value        text,
    recorded_at     timestamptz not null default now()
);
create unique index subject_change_event_once on history.subject_change_event
    (night, subject_key, event_type, coalesce(record_id, ''));
create index subject_change_event_recorded on history.subject_change_event (recorded_at);

-- Every attempt to post a night's changes to CREDIT_DW_CHANGES_WEBHOOK_URL.
create table history.webhook_delivery (
    delivery_id     bigint generated always as identity primary key,
    night           date not null,
    run_id          text not null,
    target          text not null,            -- scheme://host/path only: no query string (tokens)
    attempt         integer not null,
    events          integer not null,
    http_status     integer,
    success         boolean not null,
    error           text,
    attempted_at    timestamptz not null default now()
);
create index webhook_delivery_night on history.webhook_delivery (night);

grant usage on schema history to transformer, steward;
grant select, insert, update, delete on all tables in schema history to transformer;
grant select on all tables in schema history to steward;
