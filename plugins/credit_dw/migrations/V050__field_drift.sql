-- Field drift as data: a source field the feed spec neither maps nor lists under `ignored` is
-- one row per (batch, field), written in the loading transaction, so stewards can ask which
-- feeds and files carry which unknown columns since when, instead of parsing manifest messages.
create table quality.field_drift (
    batch_id        bigint not null references quality.batch_manifest on delete cascade,
    feed            text not null,
    source_file     text not null,
    field           text not null,        -- the header name as delivered
    file_kind       text not null,
    field_set       text not null,
    detected_at     timestamptz not null default now(),
    primary key (batch_id, field)
);
create index field_drift_feed on quality.field_drift (feed, field);

comment on table quality.field_drift is
  'Source fields a delivery carried that its feed spec neither maps nor ignores (FIELD_DRIFT).';

-- grants: R__grants.sql (loader writes it; stewards read all of quality)
