-- Raw tables without a per-row foreign key to the manifest (issue 9, part 2).
-- The loader itself guarantees the batch: it inserts the manifest row and then the file's rows in
-- the same transaction, under the loader role, and nothing else writes raw. Checking the key for
-- every row cost a third of the COPY into raw.penalty. quality.rejected_rows keeps its key (with
-- on delete cascade, which purge relies on) and restricted.person_identity keeps first_batch_id's.
alter table raw.registration drop constraint if exists registration_batch_id_fkey;
alter table raw.penalty drop constraint if exists penalty_batch_id_fkey;
alter table raw.judicial_listing drop constraint if exists judicial_listing_batch_id_fkey;
alter table raw.tax_violation drop constraint if exists tax_violation_batch_id_fkey;
alter table raw.tax_rating drop constraint if exists tax_rating_batch_id_fkey;
alter table raw.social_insurance_arrears drop constraint if exists social_insurance_arrears_batch_id_fkey;
