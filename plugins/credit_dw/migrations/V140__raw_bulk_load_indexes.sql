-- A load that is large against its raw table (a register's first delivery, a history, a catch-up
-- of many days) drops the table's non-unique indexes in its transaction and builds them again,
-- sorted, before it commits, instead of inserting every row into every B-tree in random key
-- order. Measured on 974k register rows (raw.registration, six B-trees): the COPY took 43.0 s
-- with the indexes and 5.8 s without them; building them again took 16 s
-- (docs/benchmarks.md "The register's ingest"). The night's small deltas keep the indexes.
--
-- The loader may not run DDL. These functions may, on raw tables only, and only for what they
-- dropped themselves in the same transaction: the definitions wait in a temporary table the
-- caller can neither read nor write, dropped at commit. A deferred check refuses to commit while
-- an index is still missing, and a load that fails rolls the drop back with everything else, so
-- no index is ever lost.

create function raw.check_indexes_restored() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if exists (select from pg_temp.deferred_index where table_oid = new.table_oid) then
        raise exception 'indexes of % were dropped for a bulk load and not built again; nothing is committed',
            new.table_oid::regclass
            using hint = 'call raw.restore_indexes() before the load commits';
    end if;
    return null;
end
$$;

create function raw.defer_indexes(p_table regclass) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    dropped integer := 0;
    idx record;
begin
    if (select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = p_table and c.relkind = 'r') is distinct from 'raw' then
        raise exception 'raw.defer_indexes: % is not a raw table', p_table;
    end if;
    if to_regclass('pg_temp.deferred_index') is null then
        create temp table deferred_index (table_oid oid not null, definition text not null) on commit drop;
        create constraint trigger indexes_restored after insert on pg_temp.deferred_index
            deferrable initially deferred for each row execute function raw.check_indexes_restored();
    end if;
    -- unique indexes enforce keys: they stay
    for idx in
        select i.indexrelid::regclass as name, pg_get_indexdef(i.indexrelid) as definition
        from pg_index as i
        where i.indrelid = p_table and not i.indisunique
    loop
        insert into pg_temp.deferred_index values (p_table, idx.definition);
        execute format('drop index %s', idx.name);
        dropped := dropped + 1;
    end loop;
    return dropped;
end
$$;

create function raw.restore_indexes(p_table regclass) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    restored integer := 0;
    definition text;
begin
    if to_regclass('pg_temp.deferred_index') is null then
        return 0;
    end if;
    -- one sort per index; the server's default (64MB) spills a register's keys to disk
    perform set_config('maintenance_work_mem', '256MB', true);
    for definition in delete from pg_temp.deferred_index where table_oid = p_table returning deferred_index.definition
    loop
        execute definition;
        restored := restored + 1;
    end loop;
    return restored;
end
$$;

revoke all on function raw.check_indexes_restored() from public;
revoke all on function raw.defer_indexes(regclass) from public;
revoke all on function raw.restore_indexes(regclass) from public;
grant execute on function raw.defer_indexes(regclass), raw.restore_indexes(regclass) to loader;

-- registration_orgcode indexed the organisation code as stored; the staging model and the
-- night's lookup use replace(organisation_code, '-', ''), indexed by registration_orgcode_clean
-- (V131), so this one only cost every register load a sixth B-tree. (Stored codes have no
-- hyphen since the validator normalises them; the expression stays for older rows.)
drop index if exists raw.registration_orgcode;
