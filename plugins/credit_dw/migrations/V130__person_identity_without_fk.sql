-- The person register without a per-row foreign key to the manifest (issue 9, part 2, like V071
-- for the raw tables). Only the loader writes restricted.person_identity, in the transaction that
-- inserted the manifest row it names, and manifest rows are never deleted (purge removes raw
-- rows, quarantined rows and unreferenced identities, never a batch). Checking the key for every
-- new identity cost half of the register insert (150k identities: 2.0 s with, 1.0 s without).
alter table restricted.person_identity drop constraint if exists person_identity_first_batch_id_fkey;
