-- Stewards' decisions on candidate person links (issue 11: one person, one subject).
--
-- A person the courts list (masked ID + name) is linked to a person known by a clear ID (the
-- keyed hash of it) by the dbt model int_person__link_candidates. Confident links apply by
-- themselves; doubtful ones wait in the steward list person_link_review until a steward
-- accepts or rejects them with `credit-dw identity accept|reject`. Each decision is a new row
-- (the latest per link wins), never rewritten: the next build applies it, and a rebuild or full
-- refresh reads it again, so no decision is lost. The two keys are keyed hashes (no clear ID);
-- `credit-dw pii rotate` re-keys them with everything else, in one transaction.
create table governance.person_link_decision (
    decision_id     bigint generated always as identity primary key,
    link_id         text not null,            -- md5(person_key | id_hash), as the review list shows it
    person_key      text not null,            -- HMAC of masked ID + name (judicial, commitment)
    id_hash         text not null,            -- HMAC of the clear ID (restricted.person_identity)
    decision        text not null check (decision in ('accepted', 'rejected')),
    reason          text not null check (btrim(reason) <> ''),
    decided_by      text not null,            -- the steward (operating-system user of the CLI)
    db_user         text not null default session_user,
    decided_at      timestamptz not null default now()
);
create index person_link_decision_link on governance.person_link_decision (link_id, decided_at desc);

create trigger append_only before update or delete or truncate on governance.person_link_decision
    for each statement execute function governance.refuse_rewrite();

-- Key rotations (`credit-dw pii rotate`): when, by whom, which key fingerprints, how many rows.
-- Append-only like every audit table.
create table governance.pii_key_rotation (
    rotation_id     bigint generated always as identity primary key,
    rotated_at      timestamptz not null default now(),
    rotated_by      text not null default session_user,
    old_key_id      text not null,            -- first 8 hex of HMAC(key, 'credit-dw key id'): not the key
    new_key_id      text not null,
    rows_rekeyed    jsonb not null            -- table.column → rows rewritten
);
create trigger append_only before update or delete or truncate on governance.pii_key_rotation
    for each statement execute function governance.refuse_rewrite();
