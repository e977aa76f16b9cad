-- Individual businesses pay tax under a legacy number that is their owner's resident ID (18
-- characters) or that ID + 2 digits (20). taxpayer_number keeps the whole number's keyed hash
-- (the record key: an owner may run several businesses); taxpayer_id_hash is the keyed hash of
-- the owner's 18-character ID, the key the owner has in every other feed (issue 11).
alter table raw.tax_violation add column taxpayer_id_hash text;
alter table raw.tax_rating add column taxpayer_id_hash text;
