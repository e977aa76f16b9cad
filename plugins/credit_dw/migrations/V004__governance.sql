-- Objections and credit repair (Art. 7): who, when, on what basis, what was decided.
create table governance.objection (
    objection_id    bigint generated always as identity primary key,
    record_id       text not null,            -- marts.fct_credit_record.record_id
    opened_at       timestamptz not null default now(),
    opened_by       text not null,
    basis           text not null,
    status          text not null default 'pending' check (status in ('pending', 'upheld', 'rejected')),
    outcome         text check (outcome in ('corrected', 'withdrawn')),  -- only when upheld
    resolved_at     timestamptz,
    resolved_by     text,
    decision_note   text,
    constraint objection_outcome check ((status = 'upheld') = (outcome is not null))
);
create index objection_record on governance.objection (record_id);

create table governance.credit_repair (
    repair_id       bigint generated always as identity primary key,
    record_id       text not null,
    approved_at     timestamptz not null default now(),
    approved_by     text not null,
    basis           text not null,
    effective_on    date not null
);
create unique index credit_repair_record on governance.credit_repair (record_id);

-- Retention purges: what left raw / quarantine, when, under which catalogue rule.
create table governance.purge_audit (
    purge_id        bigint generated always as identity primary key,
    purged_at       timestamptz not null default now(),
    table_name      text not null,
    rule            text not null,
    rows_purged     integer not null,
    detail          jsonb not null default '{}'::jsonb
);
