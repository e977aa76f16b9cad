-- Governance that cannot be rewritten (Art. 7, 8): audit tables accept new rows only, and every
-- role gets exactly what its job needs (grants in R__grants.sql, matrix in docs/security.md).

-- Roles this migration adds (NOLOGIN groups, like the others):
--   gatekeeper        records the quality gate's publication verdict (quality.publication)
--   audience_public, audience_application, audience_authorised, audience_government
--                     one per disclosure audience of the catalogue's public attribute
--   disclosure_gate   owns disclosure.lookup_person: the only way to a person's non-public records
do $$
declare
  r text;
begin
  foreach r in array array['gatekeeper', 'disclosure_gate', 'audience_public', 'audience_application',
                           'audience_authorised', 'audience_government'] loop
    if not exists (select from pg_roles where rolname = r) then
      execute format('create role %I nologin', r);
    end if;
  end loop;
end $$;

-- A trigger for every audit table: grants already refuse update/delete to the project's roles,
-- this refuses them to everybody else too (an administrator has to drop the trigger first, in
-- the open).
create function governance.refuse_rewrite() returns trigger
language plpgsql as $$
begin
  raise exception '%.% is append-only: % is refused; record a new row (a new decision) instead',
    tg_table_schema, tg_table_name, lower(tg_op)
    using errcode = 'insufficient_privilege';
end $$;
-- a trigger function needs no EXECUTE grant to fire; nobody calls it directly
revoke all on function governance.refuse_rewrite() from public;

-- Art. 8: who looked up which person, when and why (disclosure.lookup_person writes it).
create table governance.person_lookup (
    lookup_id       bigint generated always as identity primary key,
    looked_up_at    timestamptz not null default now(),
    looked_up_by    text not null,            -- the login user (session_user)
    via_role        text not null,            -- the audience role it acted as
    subject_key     text not null,            -- the person's pseudonymous subject key
    purpose         text not null,
    rows_returned   integer not null
);
create index person_lookup_subject on governance.person_lookup (subject_key);

do $$
declare
  t text;
begin
  foreach t in array array['governance.case_intake', 'governance.case_event', 'governance.purge_audit',
                           'governance.schema_migration', 'governance.person_lookup', 'quality.publication'] loop
    -- statement level: refused even when no row matches, so nobody can probe for what is there
    execute format('create trigger append_only before update or delete or truncate on %s'
                   ' for each statement execute function governance.refuse_rewrite()', t);
  end loop;
end $$;

-- Person lookups by the authorised audiences. The audience views (dbt models disclosure_*) show
-- natural persons only as far as they are actively public; anything more about a person is
-- reached through this function, which logs every call before it returns. It reads the
-- published marts.disclosure_register by name at every call (dynamic SQL), so it follows the
-- nightly publish swap.
create schema if not exists disclosure;

create function disclosure.lookup_person(p_subject_key text, p_purpose text)
returns table (
    record_id text, catalogue_item text, item_name text, public_attribute text, subject_name text,
    id_masked text, severity text, decision_date date, status text, is_disputed boolean,
    authority_name text, summary text
)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  caller text := coalesce(nullif(current_setting('role'), 'none'), session_user);
  max_rank integer;
  found integer;
begin
  if coalesce(trim(p_purpose), '') = '' then
    raise exception 'state the purpose of the lookup (Art. 8): disclosure.lookup_person(subject_key, purpose)'
      using errcode = 'invalid_parameter_value';
  end if;
  max_rank := case
    when pg_has_role(caller, 'audience_government', 'MEMBER') then 4
    when pg_has_role(caller, 'audience_authorised', 'MEMBER') then 3
  end;
  if max_rank is null then
    raise exception 'role % may not look up persons: only audience_authorised and audience_government', caller
      using errcode = 'insufficient_privilege';
  end if;
  return query execute
    'select r.record_id, r.catalogue_item, r.item_name, r.public_attribute, r.subject_name, r.id_masked,'
    ' r.severity, r.decision_date, r.status, r.is_disputed, r.authority_name, r.summary'
    ' from marts.disclosure_register r'
    ' where r.subject_key = $1 and r.subject_category = ''natural_person'''
    ' and (r.is_published or r.audience_rank <= $2)'
    ' order by r.decision_date desc, r.record_id'
    using p_subject_key, max_rank;
  get diagnostics found = row_count;
  insert into governance.person_lookup (looked_up_by, via_role, subject_key, purpose, rows_returned)
  values (session_user, caller, p_subject_key, p_purpose, found);
end $$;

alter function disclosure.lookup_person(text, text) owner to disclosure_gate;
revoke all on function disclosure.lookup_person(text, text) from public;

comment on schema disclosure is 'Disclosure to audiences: the logged person lookup (the audience views are dbt models in marts).';
comment on table governance.person_lookup is 'Every person lookup by an authorised audience (Art. 8), append-only.';
